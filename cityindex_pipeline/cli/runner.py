"""Run the monthly job in this process against the persistent Dagster instance, with progress lines."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from cityindex_pipeline.cli.instance import ensure_dagster_home
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.settings import Settings

Printer = Callable[[str], None]


@dataclass(frozen=True)
class MonthRun:
    month: Month
    run_id: str
    success: bool
    failed_steps: list[str]
    failed_checks: list[str]
    """Failed ERROR checks (they block publication)."""
    warned_checks: list[str] = field(default_factory=list)
    """Failed WARN checks (they never block)."""
    published_version: int | None = None
    published_new: bool = False
    """Whether the run added that version (False: the month's numbers, inputs and method were unchanged)."""
    overridden_checks: list[str] = field(default_factory=list)
    """Failed ERROR checks the run published over with `--override-errors` (reported as WARN to Dagster)."""


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
            if not data.passed:
                for line in failure_lines(data.metadata):
                    self.printer(f"        {line}")
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            for line in problem_lines(materialization.asset_key.to_user_string(), materialization.metadata):
                self.printer(f"  {line}")
        elif kind == "STEP_SKIPPED":
            self.printer(f"  - {event.step_key:<28} skipped (an upstream step or blocking check failed)")


def _value(metadata: Mapping[str, Any], key: str) -> Any:
    """A metadata entry's value, whether Dagster wrapped it (`MetadataValue`) or not."""
    entry = metadata.get(key)
    return getattr(entry, "value", entry)


def failure_lines(metadata: Mapping[str, Any]) -> list[str]:
    """What a failed check says: its finding, what to fix, the override if any, a few failing rows."""

    def value(key: str) -> Any:
        return _value(metadata, key)

    lines = [f"{value('failed_rows')} failing: {value('detail')}"]
    if value("fix"):
        lines.append(f"fix: {value('fix')}")
    if value("overridden"):
        lines.append(f"overridden (declared {value('declared_severity')}): {value('override_reason')}")
    for row in (value("sample") or [])[:3]:
        lines.append(f"e.g. {json.dumps(row, ensure_ascii=False, default=str)[:180]}")
    return lines


PROBLEMS_SHOWN = 3


def problem_lines(asset: str, metadata: Mapping[str, Any]) -> list[str]:
    """What a raw pull could not use (its `problems`): how many, and the first few by location and
    reason, so that a refused file is seen without opening the UI."""
    problems, listed = _value(metadata, "problems"), _value(metadata, "problem_files") or []
    if not problems:
        return []
    lines = [f"! {asset}: {problems} file(s) or response(s) not used, each kept in raw.source_problems:"]
    lines += [f"    {p.get('location')}: {p.get('reason')}" for p in listed[:PROBLEMS_SHOWN]]
    if problems > PROBLEMS_SHOWN:
        lines.append(f"    … and {problems - PROBLEMS_SHOWN} more (problem_files in {asset}'s metadata)")
    return lines


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


def run_config(reason: str = "", override_errors: str = "", methodology_version: str = "") -> dict[str, Any]:
    """The run config of a month's run: the progress logger, what the publication is asked for (the
    same `publish_options` a data engineer sets in the Launchpad) and, if given, the methodology version."""
    options = {k: v for k, v in (("reason", reason), ("override_errors", override_errors)) if v.strip()}
    config: dict[str, Any] = {"loggers": {"progress": {}}}
    resources: dict[str, Any] = {}
    if options:
        resources["publish_options"] = {"config": options}
    if methodology_version.strip():
        resources["methodology_version"] = {"config": {"version": methodology_version.strip()}}
    if resources:
        config["resources"] = resources
    return config


RECOMPUTE_JOB = "recompute_month"


def recompute_job(assets: Sequence[str]) -> dg.UnresolvedAssetJobDefinition:
    """The given assets of a month with their checks, and the raw pulls' checks, which the gate needs
    though the pulls are not run again (`cityindex rebuild` computes months from the archived pulls)."""
    raw = [dg.AssetKey(f"raw_{platform}") for platform in PLATFORMS]
    return dg.define_asset_job(
        RECOMPUTE_JOB,
        selection=dg.AssetSelection.assets(*assets) | dg.AssetSelection.checks_for_assets(*raw),
    )


def materialize_month(
    settings: Settings,
    month: Month,
    printer: Printer = print,
    *,
    reason: str = "",
    override_errors: str = "",
    recompute: Sequence[str] | None = None,
    methodology_version: str = "",
) -> MonthRun:
    """Every asset and check of one month (or only the assets `recompute` names, see `recompute_job`),
    in process, recorded in the local Dagster instance."""
    ensure_dagster_home(settings)
    from cityindex_pipeline.definitions import build_definitions

    definitions = build_definitions(settings, loggers={"progress": progress_logger(printer)})
    if recompute is None:
        job = definitions.resolve_job_def("monthly_index")
    else:
        extended = dg.Definitions.merge(definitions, dg.Definitions(jobs=[recompute_job(recompute)]))
        job = extended.resolve_job_def(RECOMPUTE_JOB)
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    if override_errors.strip():
        tags["cityindex/override_errors"] = override_errors.strip()[:200]
    with dg.DagsterInstance.get() as instance, month_lock(settings, month):
        for message in reclaim_dead_runs(instance):
            printer(message)
        refuse_beside_running(instance, month)
        result = job.execute_in_process(
            partition_key=month.partition_key,
            instance=instance,
            run_config=run_config(reason, override_errors, methodology_version),
            tags=tags,
            raise_on_error=False,
        )
        evaluations = result.get_asset_check_evaluations()
        failed = [e for e in evaluations if not e.passed]
        failed_checks = [_check_key(e) for e in failed if e.severity == dg.AssetCheckSeverity.ERROR]
        overridden_checks = [_check_key(e) for e in failed if _overridden(e)]
        warned_checks = [
            _check_key(e) for e in failed if e.severity == dg.AssetCheckSeverity.WARN and not _overridden(e)
        ]
        failed_steps = [event.step_key for event in result.get_step_failure_events()]
        publication = next(
            (
                event.materialization.metadata
                for event in result.get_asset_materialization_events()
                if event.asset_key == dg.AssetKey("published_index")
            ),
            None,
        )
        version = None if publication is None else int(publication["version"].value)
        publishes = recompute is None or "published_index" in recompute
        return MonthRun(
            month,
            result.run_id,
            result.success and not failed_checks and (version is not None or not publishes),
            failed_steps,
            failed_checks,
            warned_checks,
            version,
            bool(publication is not None and publication["new_version"].value),
            overridden_checks,
        )


def _check_key(evaluation: dg.AssetCheckEvaluation) -> str:
    return f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"


def _overridden(evaluation: dg.AssetCheckEvaluation) -> bool:
    """An ERROR check under an override: its result carries `overridden` (see `checks/results.py`)."""
    flag = evaluation.metadata.get("overridden")
    return bool(flag is not None and getattr(flag, "value", flag))


class MonthBusyError(RuntimeError):
    """Another run of the month is in progress: two runs of one month would write it over each other.
    The message names the other run and what to do; nothing was started."""


@contextmanager
def month_lock(settings: Settings, month: Month) -> Iterator[None]:
    """Hold `$CITYINDEX_HOME/locks/<YYYY-MM>.lock` while this process runs the month: a second
    `cityindex` process asking for the same month is refused at once. The operating system
    releases the lock when the process ends, however it ends, so a killed run never leaves it taken."""
    path = settings.home / "locks" / f"{month}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "a process"
            raise MonthBusyError(
                f"{month} is already being materialised by another cityindex command ({holder}): "
                "let it finish, then run again. Nothing was started."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def refuse_beside_running(instance: dg.DagsterInstance, month: Month) -> None:
    """Refuse to start while a run of the month that this process did not start is in progress in
    the instance (launched from the UI, a backfill, the schedule or a sensor): the run queue holds
    such runs back while ours runs, but cannot stop ours from starting beside one of them."""
    running = instance.get_runs(
        dg.RunsFilter(statuses=UNFINISHED, tags={"dagster/partition": month.partition_key}), limit=1
    )
    if running:
        run = running[0]
        origin = (
            "backfill " + run.tags["dagster/backfill"] if "dagster/backfill" in run.tags else run.job_name
        )
        raise MonthBusyError(
            f"{month} is already being materialised by run {run.run_id} ({origin}, {run.status.value}): "
            "let it finish, or cancel it in the Dagster UI under Runs, then run again. Nothing was started."
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
