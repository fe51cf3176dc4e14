"""Reads the monthly report makes across tables: the sources of a publication's pulls, and the
published ranks and scores of some cities over a span of months."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse


def pull_sources(warehouse: Warehouse, pull_ids: Sequence[str]) -> list[str]:
    """The sources (simulated, landing, api) the given raw pulls came from, sorted, each once."""
    pulls = warehouse.query(
        "SELECT source FROM raw.pulls WHERE list_contains($ids, pull_id)", {"ids": list(pull_ids)}
    )
    return sorted(set(pulls["source"]))


def published_trends(
    warehouse: Warehouse, earliest: Month, month: Month, version: int, city_ids: Sequence[str]
) -> pl.DataFrame:
    """Month, rank and score of the cities in every published month from `earliest` to `month`: the
    latest version of the months before `month`, `version` of `month` itself; by month, then rank."""
    return warehouse.query(
        "SELECT i.month, i.city_id, i.name_en, i.name_zh, i.rank, i.score FROM publish.index i "
        "JOIN (SELECT month, max(version) AS version FROM publish.publications "
        "      WHERE month >= $earliest AND month < $month GROUP BY month "
        "      UNION ALL SELECT $month, $version) v USING (month, version) "
        "WHERE list_contains($ids, i.city_id) ORDER BY i.month, i.rank",
        {"earliest": earliest.first_day, "month": month.first_day, "version": version, "ids": list(city_ids)},
    )
