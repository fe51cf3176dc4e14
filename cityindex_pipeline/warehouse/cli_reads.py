"""Reads the command line prints from: a platform's top ten of a month, with the cities' names."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse


def platform_top_ten(warehouse: Warehouse, month: Month, platform: str) -> pl.DataFrame:
    """Rank, names, score and change of the cities in a platform's top ten (`idx.platform_index`)."""
    return warehouse.query(
        "SELECT i.rank, c.name_en, c.name_zh, i.score, i.rank_change FROM idx.platform_index i "
        "JOIN clean.registry_cities c USING (month, city_id) "
        "WHERE i.month = $month AND i.platform = $platform AND i.in_top_ten ORDER BY i.rank, i.city_id",
        {"month": month.first_day, "platform": platform},
    )
