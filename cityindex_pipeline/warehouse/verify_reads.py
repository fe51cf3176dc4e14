"""What `verify` and `rebuild` read beyond whole months of a table: a pull's rows, the documents
whose stored text no longer hashes to their sha256, a version's published rows and panel snapshot,
and which months have publications or complete pulls."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse

PULL_TABLES = ("raw.pulls", "raw.pull_accounts", "raw.documents", "raw.source_problems")
"""The raw tables whose rows belong to a pull (`pull_id`)."""


def pull_ids(warehouse: Warehouse) -> set[str]:
    """The pulls the warehouse holds."""
    return set(warehouse.query("SELECT pull_id FROM raw.pulls")["pull_id"])


def pull_platforms(warehouse: Warehouse, pull_ids: list[str]) -> dict[str, str]:
    """The platform of each of these pulls."""
    rows = warehouse.query(
        "SELECT pull_id, platform FROM raw.pulls WHERE list_contains($pull_ids, pull_id) ORDER BY pull_id",
        {"pull_ids": pull_ids},
    )
    return dict(rows.iter_rows())


def pull_documents(warehouse: Warehouse, pull_id: str | None) -> pl.DataFrame:
    """A pull's raw.documents rows by account, endpoint and page, as the clean assets read them
    (`RawReads.raw_documents`); none, with the table's columns, for None."""
    if pull_id is None:
        return warehouse.query("SELECT * FROM raw.documents WHERE false")
    documents = warehouse.query("SELECT * FROM raw.documents WHERE pull_id = $pull", {"pull": pull_id})
    return documents.sort("account_handle", "endpoint", "page", maintain_order=True)


def tampered_documents(warehouse: Warehouse, pull_ids: list[str]) -> list[dict[str, object]]:
    """The documents of these pulls whose stored text does not hash to their recorded sha256. DuckDB
    hashes each text where it lies (the UTF-8 bytes, as hashlib would): no month of bodies is held
    in memory."""
    return warehouse.query(
        "SELECT * FROM (SELECT pull_id, platform, account_handle, endpoint, page, sha256,"
        " sha256(body) AS sha256_of_text FROM raw.documents WHERE list_contains($pull_ids, pull_id))"
        " WHERE sha256_of_text <> sha256 ORDER BY pull_id, account_handle, endpoint, page",
        {"pull_ids": pull_ids},
    ).to_dicts()


def published_rows(warehouse: Warehouse, month: Month, version: int) -> pl.DataFrame:
    """Every row of publication `version` of `month` in `publish.index`."""
    return warehouse.query(
        "SELECT * FROM publish.index WHERE month = $month AND version = $version",
        {"month": month.first_day, "version": version},
    )


def panel_snapshot(warehouse: Warehouse, month: Month, version: int) -> pl.DataFrame:
    """The panel's scores as publication `version` of `month` snapshotted them (none before snapshots)."""
    return warehouse.query(
        "SELECT * EXCLUDE (version) FROM publish.qualitative_inputs WHERE month = $month AND version = $version",
        {"month": month.first_day, "version": version},
    )


def publication_history(warehouse: Warehouse) -> pl.DataFrame:
    """Every publication's month, version, methodology and override, by month then version."""
    return warehouse.query(
        "SELECT month, version, methodology_version, override_reason FROM publish.publications ORDER BY month, version"
    )


def months_pulled_complete(warehouse: Warehouse, platforms: int) -> list[Month]:
    """The months with a complete pull of `platforms` distinct platforms."""
    complete = warehouse.query(
        "SELECT month FROM raw.pulls WHERE status = 'complete' GROUP BY month "
        "HAVING count(DISTINCT platform) = $platforms",
        {"platforms": platforms},
    )
    return [Month.of(day) for day in complete["month"]]
