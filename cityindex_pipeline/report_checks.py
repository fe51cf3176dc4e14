"""Wiring: the month's latest asset-check results from a Dagster instance, as the report shows them."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter  # the storage API takes it; not re-exported

from cityindex_pipeline.months import Month
from cityindex_pipeline.report import CheckOutcome


def all_check_keys() -> list[dg.AssetCheckKey]:
    from checks import all_checks

    return [key for check in all_checks for key in check.check_keys]


def check_outcomes(
    instance: dg.DagsterInstance, month: Month, keys: Iterable[dg.AssetCheckKey] | None = None
) -> list[CheckOutcome]:
    """The latest evaluation of each check for the month's partition; checks never run are left out."""
    keys = list(all_check_keys() if keys is None else keys)
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        keys, partition_filter=PartitionKeyFilter(key=month.partition_key)
    )
    outcomes = []
    for key in keys:
        record = records.get(key)
        event = record.event if record is not None else None
        if event is None or event.dagster_event is None:
            continue
        evaluation = event.dagster_event.event_specific_data
        detail = evaluation.metadata.get("detail")
        failed = evaluation.metadata.get("failed_rows")
        text = str(detail.value) if detail is not None else ""
        if failed is not None and failed.value:
            text = f"{failed.value} failing row(s). {text}".strip()
        outcomes.append(
            CheckOutcome(
                asset=key.asset_key.to_user_string(),
                name=key.name,
                passed=bool(evaluation.passed),
                severity=evaluation.severity.value,
                detail=text,
                run_id=record.run_id,
            )
        )
    return outcomes
