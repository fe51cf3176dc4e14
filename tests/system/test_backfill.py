"""A multi-month backfill launched through the GraphQL API of a real `dagster dev`, as the UI launches it.

Runs on the embedded instance and on PostgreSQL. Every asset partition is materialised, every check
passes, no step meets DuckDB's writer lock, and the months equal months materialised in sequence.
Then the Dagster UI in a real browser (Debian's chromium, driven by Playwright) shows that backfill:
one file, so that the browser reads the backfill the other tests waited for (a test file stays on
one worker). Screenshots are kept in `test-artifacts/` (gitignored) for a person to look at.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.definitions import build_definitions
from cityindex_pipeline.defs.resources import resources_for
from cityindex_pipeline.warehouse.store import Warehouse

pytestmark = pytest.mark.system

LOCK_ERRORS = ("Could not set lock", "WarehouseLockedError", "Conflicting lock")


def _why_not(backfilled) -> str:
    """What went wrong in the backfill's runs: each failed run's failed steps and checks, said briefly
    (a failure on a machine where nobody can look at the instance afterwards must explain itself)."""
    lines = [str(backfilled.progress)]
    with backfilled.dagster.instance() as instance:
        runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfilled.backfill_id}))
        for record in runs:
            run = record.dagster_run
            lines.append(f"run {run.run_id[:8]} {run.tags.get('dagster/partition')} {run.status.value}")
            if run.status == dg.DagsterRunStatus.SUCCESS:
                continue
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None:
                    continue
                if event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE", "ENGINE_EVENT") and (
                    event.event_type_value != "ENGINE_EVENT" or "fail" in (entry.user_message or "").lower()
                ):
                    lines.append(
                        f"  {event.event_type_value} {event.step_key}: {(entry.user_message or '')[:300]}"
                    )
                elif (
                    event.event_type_value == "ASSET_CHECK_EVALUATION"
                    and not event.event_specific_data.passed
                ):
                    key = event.event_specific_data.asset_check_key
                    lines.append(f"  check failed {key.asset_key.to_user_string()}:{key.name}")
    return "\n".join(lines)


def test_the_backfill_materialises_every_partition_and_passes_every_check(backfilled):
    assert backfilled.progress.succeeded, _why_not(backfilled)
    keys = {m.partition_key for m in backfilled.months}
    graph = build_definitions().resolve_asset_graph()
    with backfilled.dagster.instance() as instance:
        for key in graph.get_all_asset_keys():
            assert instance.get_materialized_partitions(key) >= keys, key
            event = instance.get_latest_materialization_event(key)
            metadata = event.asset_materialization.metadata
            assert len(metadata["data_sha256"].value) == 64, key
            if "dagster/table_name" in graph.get(key).metadata:
                assert metadata["dagster/row_count"].value > 0, key
        for check_key in graph.asset_check_keys:
            history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=50)
            passed = {
                record.partition
                for record in history
                if record.event and record.event.asset_check_evaluation.passed
            }
            assert passed >= keys, (check_key, passed)
        runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfilled.backfill_id}))
        title = instance.get_backfill(backfilled.backfill_id).title
    assert runs and all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    # launched untitled (embedded, as the UI does) the coordinator names its months; a given title stays
    months = f"{backfilled.months[0]}..{backfilled.months[-1]} ({len(backfilled.months)} months)"
    assert title == (f"cityindex {months}" if backfilled.dagster.kind == "embedded" else "system test")
    # the webserver lists the same runs with their times (what `cityindex bench` reads of a backfill)
    listed = backfilled.dagster.server.runs(backfilled.backfill_id)
    assert {r.run_id for r in listed} == {r.dagster_run.run_id for r in runs}
    assert all(r.status == "SUCCESS" and r.seconds is not None and r.seconds > 0 for r in listed)
    log = backfilled.dagster.log.read_text(errors="replace")
    assert not [marker for marker in LOCK_ERRORS if marker in log]
    # one run per month, the whole month's graph in it, one run at a time and in month order
    ordered = sorted(runs, key=lambda r: r.start_time)
    assert [r.dagster_run.tags.get("dagster/partition") for r in ordered] == sorted(keys), [
        (r.dagster_run.tags.get("dagster/partition"), r.start_time) for r in ordered
    ]
    assert all(len(r.dagster_run.asset_selection or ()) == len(graph.get_all_asset_keys()) for r in runs)
    assert all(before.end_time <= after.start_time for before, after in itertools.pairwise(ordered))
    print(
        f"\n{backfilled.dagster.kind}: {len(backfilled.months)} months, {len(runs)} runs, "
        f"{backfilled.seconds:.0f} s from the launch to the end of the last run"
    )
    warehouse = Warehouse(backfilled.dagster.home / "warehouse.duckdb")
    for month in backfilled.months:
        assert warehouse.read_month("publish.index", month).height == 133, f"{month} was published"


# The warehouse does not depend on the instance kind: compared once, on the embedded instance.
@pytest.mark.parametrize("backfilled", ["embedded"], indirect=True)
def test_a_backfill_gives_the_same_months_as_materialising_them_in_sequence(backfilled, tmp_path):
    sequential = Settings(home=tmp_path, source="simulated", seed=20240901, first_month=backfilled.months[0])
    with dg.instance_for_test() as instance:
        for month in backfilled.months:
            result = dg.materialize(
                [*_graph_parts()["assets"], *_graph_parts()["asset_checks"]],
                partition_key=month.partition_key,
                resources=resources_for(sequential),
                instance=instance,
            )
            assert result.success
    expected = Warehouse(sequential.warehouse_path)
    actual = Warehouse(backfilled.dagster.home / "warehouse.duckdb")
    last = backfilled.months[-1]
    for table in ("clean.account_metrics", "idx.platform_index", "idx.comprehensive_index", "publish.index"):
        got, want = _content(actual, table, last), _content(expected, table, last)
        assert got.equals(want), table
    growth = actual.read_month("clean.account_metrics", last)["follower_growth"]
    assert growth.null_count() < growth.len(), "the last month saw its previous month"


def _content(warehouse: Warehouse, table: str, month) -> pl.DataFrame:
    frame = warehouse.read_month(table, month).drop("run_id", "pull_id", "published_at", strict=False)
    return frame.sort(frame.columns)


def _graph_parts() -> dict:
    from assets import all_assets
    from checks import all_checks

    return {"assets": all_assets, "asset_checks": all_checks}


@pytest.mark.parametrize("backfilled", ["embedded"], indirect=True)
def test_a_daemon_killed_in_the_middle_of_the_backfill_is_restarted_and_the_backfill_completes(backfilled):
    """The embedded instance runs the daemon apart from the webserver; the fixture SIGKILLs it once
    some asset partitions were materialised, and starts a new one."""
    killed_at, before = backfilled.daemon_killed_at, backfilled.progress_when_killed
    assert killed_at is not None and before is not None
    assert 0 < before.materialized < before.targeted, "killed in the middle of the backfill"
    assert backfilled.progress.succeeded and backfilled.progress.materialized == before.targeted
    with backfilled.dagster.instance() as instance:
        runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfilled.backfill_id}))
    # the backfill queued every month's run at once; the new daemon dequeued the later ones
    started_after = [r for r in runs if r.start_time is not None and r.start_time > killed_at]
    assert started_after, "the new daemon started the rest of the backfill"
    assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in runs)


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAYERS = ("registry", "raw", "clean", "index", "publish")
CHECKS = ("one_row_per_city", "ranks_follow_scores", "scores_between_0_and_100")


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: apt-get install -y chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def _open(page, url: str, ready: str) -> None:
    page.goto(url)
    page.get_by_text(ready, exact=True).first.wait_for()
    skip = page.get_by_role("button", name="Skip")  # Dagster's community pop-up, first visit only
    if skip.count():
        skip.first.click()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    (ARTIFACTS / f"{name}.txt").write_text(page.inner_text("body"), encoding="utf-8")


@pytest.mark.parametrize("backfilled", ["embedded"], indirect=True)
def test_the_ui_shows_the_graph_the_partitions_and_the_checks(backfilled, page):
    base = backfilled.dagster.url
    _open(page, f"{base}/asset-groups", "Global asset lineage")
    for layer in LAYERS:
        page.get_by_text(layer, exact=True).first.wait_for()
    _shot(page, "asset-graph")

    _open(page, f"{base}/assets/published_index?view=partitions", "published_index")
    months = [m.partition_key for m in backfilled.months]
    page.get_by_text(f"Materialized ({len(months)})").first.wait_for()
    for key in months:
        assert page.get_by_text(key, exact=True).count() > 0, key
    _shot(page, "published-index-partitions")

    _open(page, f"{base}/assets/comprehensive_index?view=checks", "comprehensive_index")
    for check in CHECKS:
        page.get_by_text(check, exact=True).first.wait_for()
    page.get_by_text(re.compile(r"^(Passed|Succeeded)$")).first.wait_for()
    page.get_by_text(months[-1], exact=True).first.wait_for()  # the latest evaluation is of the last month
    body = page.inner_text("body")
    assert "Failed" not in body.split("Execution history")[0], "no check failed"
    _shot(page, "comprehensive-index-checks")

    # the schedule: a partitioned schedule of the monthly job, off until turned on, on day 6 at 06:00 Beijing
    _open(page, f"{base}/automation", "monthly_index_schedule")
    page.get_by_text("monthly_index_schedule", exact=True).first.click()
    page.get_by_text("monthly_index", exact=True).first.wait_for()
    body = page.inner_text("body")
    (ARTIFACTS / "monthly-schedule.txt").write_text(body, encoding="utf-8")
    assert "monthly_index_schedule" in body and "(0 6 6 * *)" in body, body[:3000]
    assert "Execution timezone\tAsia/Shanghai" in body and "Schedule has never run" in body, body[:3000]
    _shot(page, "monthly-schedule")
