"""Run the monthly job in this process against the persistent Dagster instance, with progress lines."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from cityindex_pipeline.config import Settings
from cityindex_pipeline.instance import ensure_dagster_home
from cityindex_pipeline.months import Month

Printer = Callable[[str], None]


@dataclass(frozen=True)
class MonthRun:
    month: Month
    run_id: str
    success: bool
    failed_steps: list[str]
    failed_checks: list[str]


class _ProgressHandler(logging.Handler):
    """Turns Dagster's structured events into one line per finished step or check."""

    def __init__(self, printer: Printer) -> None:
        super().__init__()
        self.printer = printer
        self.check_steps: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        if event is None:
            return
        kind = event.event_type_value
        if kind == "STEP_SUCCESS" and event.step_key not in self.check_steps:
            self.printer(f"  ✓ {event.step_key:<28} {event.event_specific_data.duration_ms / 1000:6.2f} s")
        elif kind == "STEP_FAILURE":
            error = event.event_specific_data.error
            self.printer(f"  ✗ {event.step_key:<28} {_reason(error)}")
        elif kind == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            self.check_steps.add(event.step_key)
            mark = "✓" if data.passed else "✗"
            asset = data.asset_check_key.asset_key.to_user_string()
            self.printer(
                f"    {mark} check {asset}:{data.asset_check_key.name} (severity {data.severity.value})"
            )
        elif kind == "STEP_SKIPPED":
            self.printer(f"  - {event.step_key:<28} skipped (an upstream step or blocking check failed)")


def progress_logger(printer: Printer) -> dg.LoggerDefinition:
    @dg.logger
    def _progress(_init_context: dg.InitLoggerContext) -> logging.Logger:
        log = logging.Logger("cityindex.progress", level=logging.DEBUG)
        log.addHandler(_ProgressHandler(printer))
        return log

    return _progress


PID_TAG = "cityindex/pid"
HOST_TAG = "cityindex/host"
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def materialize_month(settings: Settings, month: Month, printer: Printer = print) -> MonthRun:
    """Every asset and check of one month, in process, recorded in the local Dagster instance."""
    ensure_dagster_home(settings)
    from cityindex_pipeline.definitions import build_definitions

    definitions = build_definitions(settings, loggers={"progress": progress_logger(printer)})
    job = definitions.resolve_job_def("monthly_index")
    with dg.DagsterInstance.get() as instance:
        for message in reclaim_dead_runs(instance):
            printer(message)
        result = job.execute_in_process(
            partition_key=month.partition_key,
            instance=instance,
            run_config={"loggers": {"progress": {}}},
            tags={PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()},
            raise_on_error=False,
        )
        failed_checks = [
            evaluation.asset_check_key.name
            for evaluation in result.get_asset_check_evaluations()
            if not evaluation.passed
        ]
        failed_steps = [event.step_key for event in result.get_step_failure_events()]
        return MonthRun(
            month, result.run_id, result.success and not failed_checks, failed_steps, failed_checks
        )


def reclaim_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs this command started whose process is gone (killed, out of memory, power cut),
    and free the concurrency slots they held: otherwise the `warehouse` pool stays taken and every
    later run waits for it forever. Runs of other hosts, and of the webserver and daemon, are left
    to Dagster's own run monitoring."""
    reclaimed = []
    for run in instance.get_runs(dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: socket.gethostname()})):
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid <= 0 or _alive(pid):
            continue
        message = f"run {run.run_id} of {run.tags.get('dagster/partition', '?')}: its process {pid} is gone"
        instance.report_run_failed(run, message=f"{message}; marked failed by a later run")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reclaimed.append(f"{message}: marked failed, its concurrency slots freed")
    return reclaimed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reason(error: object) -> str:
    """The innermost error's message: Dagster wraps what the step raised in its own error."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    message = getattr(error, "message", "") or "failed"
    return " ".join(message.strip().splitlines()[:3])
