"""Reads of the published tables (`publish.*`) beyond one table's month: the months ever published,
and one version's index, for publishing's heal and verification, the report and the command line."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse


def published_months(warehouse: Warehouse) -> set[Month]:
    """Every month with at least one committed publication."""
    days = warehouse.query("SELECT DISTINCT month FROM publish.publications")["month"]
    return {Month.of(day) for day in days}


def published_index(warehouse: Warehouse, month: Month, version: int) -> pl.DataFrame:
    """The rows of `publish.index` of one version of a month, by rank (then city id)."""
    return warehouse.query(
        "SELECT * FROM publish.index WHERE month = $month AND version = $version ORDER BY rank, city_id",
        {"month": month.first_day, "version": version},
    )
