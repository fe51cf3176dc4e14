"""Reads of a month's registry snapshot, as the account_registry asset stored it."""

from __future__ import annotations

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.warehouse.store import Warehouse


class MissingUpstreamError(RuntimeError):
    """An asset ran before the month's upstream asset was materialised."""


def registered_accounts(warehouse: Warehouse, month: Month, platform: str) -> list[Account]:
    """The accounts of a platform active in the month, from the month's registry snapshot."""
    rows = warehouse.registry_accounts(month)
    if rows.height == 0:
        raise MissingUpstreamError(f"no registry snapshot for {month}: materialise account_registry first")
    return [
        Account(
            city_id=row["city_id"],
            platform=row["platform"],
            account_handle=row["account_handle"],
            platform_account_id=row["platform_account_id"],
            display_name=row["display_name"],
            started_on=row["started_on"],
        )
        for row in rows.filter(platform=platform, active=True).iter_rows(named=True)
    ]
