"""What `trace` reads beyond whole months of a table: one city's row of a publication, and the raw
documents holding a set of posts."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse


def published_city(warehouse: Warehouse, month: Month, version: int, city_id: str) -> pl.DataFrame:
    """The city's published score and rank in publication `version` of `month` (no row: none)."""
    return warehouse.query(
        "SELECT score, rank FROM publish.index WHERE month = $month AND version = $version AND city_id = $city",
        {"month": month.first_day, "version": version, "city": city_id},
    )


def documents_with_digests(warehouse: Warehouse, month: Month, digests: list[str]) -> pl.DataFrame:
    """The month's raw documents whose sha256 is one of `digests`, with their stored text (`body`):
    one scan of the month's documents, whatever the platforms."""
    return warehouse.query(
        "SELECT pull_id, sha256, platform, account_handle, endpoint, page, fetched_at, request_url, source, body "
        "FROM raw.documents WHERE month = $month AND list_contains($digests, sha256)",
        {"month": month.first_day, "digests": digests},
    )
