"""Runs of one month side by side: a check still planned or running in another run is no result,
and never crashes the gate; a check planned by a run that ended without it does not hide the
result before it; `cityindex materialize` refuses to start beside a run of the same month."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import dagster as dg

from cityindex_pipeline.cli.instance import DAGSTER_YAML
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.defs.check_results import check_outcomes
from cityindex_pipeline.quality.gates import Gate, Severity, decide

SEPTEMBER = Month(2024, 9)
monthly = dg.MonthlyPartitionsDefinition(start_date="2024-01-01", timezone="Asia/Shanghai")
KEY = dg.AssetCheckKey(dg.AssetKey("clean_posts"), "posts_unique")
GATE = Gate("clean_posts", "posts_unique", Severity.ERROR, "one row per post")
CLI = shutil.which("cityindex", path=str(Path(sys.executable).parent)) or "cityindex"


def test_a_check_running_in_another_run_is_in_flight_and_the_gate_says_so():
    release = threading.Event()

    @dg.asset(name="clean_posts", partitions_def=monthly)
    def clean_posts() -> None: ...

    @dg.asset_check(asset=clean_posts, name="posts_unique", partitions_def=monthly, blocking=True)
    def posts_unique() -> dg.AssetCheckResult:
        assert release.wait(120)
        return dg.AssetCheckResult(passed=True)

    with dg.instance_for_test() as instance:
        done: list[dg.ExecuteInProcessResult] = []
        other_run = threading.Thread(
            target=lambda: done.append(
                dg.materialize(
                    [clean_posts, posts_unique], partition_key=SEPTEMBER.partition_key, instance=instance
                )
            )
        )
        other_run.start()
        try:
            deadline = time.monotonic() + 120
            while (
                not (outcomes := check_outcomes(instance, SEPTEMBER, [KEY])) and time.monotonic() < deadline
            ):
                time.sleep(0.2)
            (outcome,) = outcomes
            assert outcome.in_flight and not outcome.passed
            verdict = decide(outcomes, (GATE,))
            assert not verdict.publishable and verdict.running == {GATE.key: outcome.run_id}
            assert f"still being evaluated by run(s) {outcome.run_id}" in verdict.message()
        finally:
            release.set()
            other_run.join(120)
        assert done and done[0].success
        (finished,) = check_outcomes(instance, SEPTEMBER, [KEY])
        assert finished.passed and not finished.in_flight and decide([finished], (GATE,)).publishable


def test_a_check_planned_by_a_run_that_failed_before_it_falls_back_to_the_result_before():
    fail = {"now": False}

    @dg.asset(
        name="clean_posts",
        partitions_def=monthly,
        check_specs=[dg.AssetCheckSpec("posts_unique", asset="clean_posts", partitions_def=monthly)],
    )
    def clean_posts():
        if fail["now"]:
            raise RuntimeError("the asset failed before its check")
        yield dg.Output(None)
        yield dg.AssetCheckResult(check_name="posts_unique", passed=True)

    with dg.instance_for_test() as instance:
        first = dg.materialize([clean_posts], partition_key=SEPTEMBER.partition_key, instance=instance)
        assert first.success
        fail["now"] = True
        second = dg.materialize(
            [clean_posts], partition_key=SEPTEMBER.partition_key, instance=instance, raise_on_error=False
        )
        assert not second.success
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([KEY])[KEY]
        assert latest.run_id == second.run_id and latest.status.value == "PLANNED", (
            "the failed run planned it"
        )

        (outcome,) = check_outcomes(instance, SEPTEMBER, [KEY])

    assert (outcome.run_id, outcome.passed, outcome.in_flight, outcome.current) == (
        first.run_id,
        True,
        False,
        True,
    )


def environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    return {**env, "CITYINDEX_HOME": str(home), "CITYINDEX_FIRST_MONTH": str(SEPTEMBER)}


def materialize_september(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "materialize", "--month", str(SEPTEMBER)],
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_second_run_of_a_month_beside_one_in_progress_is_refused_with_a_sentence(tmp_path):
    home = tmp_path / "home"
    first = subprocess.Popen(
        [CLI, "materialize", "--month", str(SEPTEMBER)],
        env=environment(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lock = home / "locks" / f"{SEPTEMBER}.lock"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if lock.exists() and lock.read_text(encoding="utf-8").startswith(f"pid {first.pid} "):
            break
        time.sleep(0.2)
    assert first.poll() is None, "the first run is in progress"

    second = materialize_september(home)

    output, _ = first.communicate(timeout=600)
    assert first.returncode == 0, output
    assert second.returncode != 0
    assert (
        f"2024-09 is already being materialised by another cityindex command (pid {first.pid} "
        in " ".join(second.stderr.split())
    ), second.stderr
    assert "Nothing was started" in second.stderr and "Traceback" not in second.stderr


def test_a_run_of_the_month_launched_elsewhere_keeps_the_command_from_starting(tmp_path):
    status = dg.DagsterRunStatus.STARTED
    home = tmp_path / "home"
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")  # as the command writes it
    run_id = str(uuid.uuid4())
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        instance.add_run(
            dg.DagsterRun(
                job_name="monthly_index",
                run_id=run_id,
                status=status,
                tags={"dagster/partition": SEPTEMBER.partition_key, "dagster/backfill": "abcdefgh"},
            )
        )

    refused = materialize_september(home)

    assert refused.returncode != 0
    said = " ".join(refused.stderr.split())
    assert (
        f"2024-09 is already being materialised by run {run_id} (backfill abcdefgh, {status.value})" in said
    )
    assert "cancel it in the Dagster UI under Runs" in said
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        assert [run.run_id for run in instance.get_runs()] == [run_id], "nothing was started"
