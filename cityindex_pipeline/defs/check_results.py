"""Wiring: the month's latest asset-check results from a Dagster instance, for the gate and the report.

A result counts for the month's current data only if no materialisation of its asset for that month
came after the one it evaluated. This is what lets `published_index` publish from a run
of its own (an asset backfill runs each asset-month in its own run) while refusing results that an
asset's later re-materialisation has made stale.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter  # the storage API takes it; not re-exported
from dagster._core.storage.asset_check_execution_record import (  # the storage API's record statuses
    COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
    AssetCheckExecutionRecord,
)

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.quality.gates import GATES, CheckOutcome


def all_check_keys() -> list[dg.AssetCheckKey]:
    """Every check of the gate catalogue (`checks/` defines one check per gate)."""
    return [dg.AssetCheckKey(dg.AssetKey(gate.asset), gate.name) for gate in GATES]


def _latest_materialisations(
    instance: dg.DagsterInstance, assets: Iterable[dg.AssetKey], month: Month
) -> dict[dg.AssetKey, int]:
    """Storage id of each asset's latest materialisation of the month (assets never materialised are left out)."""
    latest = {}
    for asset in set(assets):
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[month.partition_key]), limit=1
        ).records
        if records:
            latest[asset] = records[0].storage_id
    return latest


def _current(target, latest_storage_id: int | None) -> bool:
    """Nothing materialised the asset's month after the evaluated materialisation. With no
    materialisation in the instance (data made outside it), nothing can have superseded the result."""
    if latest_storage_id is None:
        return True
    return target is not None and target.storage_id >= latest_storage_id


def _detail(evaluation) -> str:
    """Failing rows, what failed and, for a failure, what to do: as the gate's message and the report show it."""
    metadata = evaluation.metadata
    parts = []
    failed_rows = metadata.get("failed_rows")
    if failed_rows is not None and failed_rows.value:
        parts.append(f"{failed_rows.value} failing row(s).")
    for name in ("detail", "fix"):
        value = metadata.get(name)
        if value is not None and value.value:
            parts.append(("Fix: " if name == "fix" else "") + str(value.value))
    return " ".join(parts)


UNFINISHED_RUN_STATUSES = {
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
}


def _run_unfinished(instance: dg.DagsterInstance, run_id: str) -> bool:
    record = instance.get_run_record_by_id(run_id)
    return record is not None and record.dagster_run.status in UNFINISHED_RUN_STATUSES


def _latest_completed(
    instance: dg.DagsterInstance, key: dg.AssetCheckKey, month: Month
) -> AssetCheckExecutionRecord | None:
    """The check's latest result for the month, past a planned evaluation that never ran (its run
    failed or was cancelled before the check, or skipped it)."""
    history = instance.event_log_storage.get_asset_check_execution_history(
        key,
        limit=1,
        status=set(COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES),
        partition_filter=PartitionKeyFilter(key=month.partition_key),
    )
    return history[0] if history else None


def check_outcomes(
    instance: dg.DagsterInstance, month: Month, keys: Iterable[dg.AssetCheckKey] | None = None
) -> list[CheckOutcome]:
    """The latest evaluation of each check for the month's partition, marked `current` when it was
    evaluated against the latest materialisation of its asset for the month; checks never run are
    left out. A check planned by a run still in progress is `in_flight` (no result yet); one planned
    by a run that ended without evaluating it falls back to its latest result."""
    keys = list(all_check_keys() if keys is None else keys)
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        keys, partition_filter=PartitionKeyFilter(key=month.partition_key)
    )
    latest = _latest_materialisations(instance, (key.asset_key for key in records), month)
    outcomes = []
    for key in keys:
        record = records.get(key)
        if record is not None and record.status not in COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES:
            if _run_unfinished(instance, record.run_id):
                outcomes.append(
                    CheckOutcome(key=_name(key), passed=False, run_id=record.run_id, in_flight=True)
                )
                continue
            record = _latest_completed(instance, key, month)
        event = record.event if record is not None else None
        if event is None or event.dagster_event is None:
            continue  # never evaluated for the month
        evaluation = event.dagster_event.event_specific_data
        target = evaluation.target_materialization_data
        overridden = evaluation.metadata.get("overridden")
        outcomes.append(
            CheckOutcome(
                key=_name(key),
                passed=bool(evaluation.passed),
                overridden=bool(overridden is not None and overridden.value),
                detail=_detail(evaluation),
                severity=evaluation.severity.value,
                run_id=record.run_id,
                current=_current(target, latest.get(key.asset_key)),
            )
        )
    return outcomes


def _name(key: dg.AssetCheckKey) -> str:
    """`asset:check_name`, as `Gate.key`."""
    return f"{key.asset_key.to_user_string()}:{key.name}"
