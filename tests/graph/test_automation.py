"""The monthly schedule and the panel re-publication sensor, evaluated as Dagster evaluates them."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from itertools import islice
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator
from support.runs import make_settings, materialize

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings, settings_from_env
from cityindex_pipeline.core.variables import check_schedule_after_delay
from cityindex_pipeline.core.variables import schedule_day_from_env as settling_day_from_env
from cityindex_pipeline.definitions import build_definitions
from cityindex_pipeline.defs.republish import qualitative_republish_sensor
from cityindex_pipeline.defs.resources import SourceResource
from cityindex_pipeline.method.panel import panel_path
from cityindex_pipeline.quality.settling import month_settled
from cityindex_pipeline.warehouse.store import Warehouse

BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("tick", "expected"),
    [
        (datetime(2024, 10, 6, 6, 0, tzinfo=BEIJING), "2024-09-01"),
        (datetime(2025, 1, 6, 6, 0, tzinfo=BEIJING), "2024-12-01"),  # across the year boundary
        (datetime(2028, 3, 6, 6, 0, tzinfo=BEIJING), "2028-02-01"),  # a leap February
        (datetime(2024, 8, 6, 6, 0, tzinfo=BEIJING), "2024-07-01"),  # the first partition
    ],
)
def test_the_schedule_requests_the_month_just_closed(tick, expected):
    schedule = build_definitions().resolve_schedule_def("monthly_index_schedule")
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context,
    ):
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == expected


def test_the_schedule_runs_on_the_settling_day_at_six_beijing_time_and_starts_stopped(monkeypatch):
    schedule = build_definitions().resolve_schedule_def("monthly_index_schedule")
    assert schedule.cron_schedule == "0 6 6 * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == "monthly_index"
    monkeypatch.setenv("CITYINDEX_SETTLING_DAY", "10")
    later = build_definitions().resolve_schedule_def("monthly_index_schedule")
    assert later.cron_schedule == "0 6 10 * *"


@pytest.mark.parametrize("schedule_day", range(1, 29))
def test_a_schedule_the_settings_accept_runs_months_the_gate_publishes_and_one_they_refuse_would_not(
    schedule_day, tmp_path
):
    """Every schedule day against every publication delay, on the ticks Dagster computes for the
    schedule: the settings accept exactly the pairs whose scheduled runs pass `month_has_settled`."""
    settings = Settings(home=tmp_path, source="simulated", seed=1, schedule_day=schedule_day)
    schedule = build_definitions(settings).resolve_schedule_def("monthly_index_schedule")
    start = datetime(2024, 1, 1, tzinfo=BEIJING).timestamp()
    ticks = list(islice(cron_string_iterator(start, schedule.cron_schedule, schedule.execution_timezone), 14))
    assert {tick.day for tick in ticks} == {schedule_day}  # a year and more: a leap February too
    for delay_days in range(0, 30):
        try:
            check_schedule_after_delay(schedule_day, delay_days)
            accepted = True
        except ValueError as refused:
            accepted = False
            assert "CITYINDEX_PUBLICATION_DELAY_DAYS" in str(refused)
        for tick in ticks:
            month = Month.of(tick.date()).previous()
            passed = month_settled(month, tick, delay_days).passed
            assert passed == accepted, (schedule_day, delay_days, tick.isoformat(), str(month))


def test_the_default_schedule_runs_once_the_default_delay_has_passed():
    defaults = settings_from_env({})
    assert (defaults.schedule_day, defaults.settling_days) == (6, 5)
    check_schedule_after_delay(defaults.schedule_day, defaults.settling_days)
    assert settings_from_env({"CITYINDEX_PUBLICATION_DELAY_DAYS": "9"}).schedule_day == 10, (
        "follows the delay"
    )


def test_the_settling_day_is_configurable_and_checked():
    assert settling_day_from_env({}) == 6
    assert settling_day_from_env({"CITYINDEX_SETTLING_DAY": "12"}) == 12
    for bad in ("0", "31", "fifth"):
        with pytest.raises(ValueError, match="CITYINDEX_SETTLING_DAY"):
            settling_day_from_env({"CITYINDEX_SETTLING_DAY": bad})


def _panel_rows(warehouse: Warehouse, month: Month, bump: float) -> str:
    scores = warehouse.read_month("idx.qualitative_scores", month)
    lines = ["city_id,rater,criterion,score"]
    for row in scores.iter_rows(named=True):
        lines.append(
            f"{row['city_id']},{row['rater']},{row['criterion']},{min(100.0, row['score'] + bump):.1f}"
        )
    return "\n".join(lines) + "\n"


def _tick(instance, source, cursor):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"source": source}, definitions=build_definitions()
    )
    result = qualitative_republish_sensor(context)
    return result, result.cursor


def _run_request(settings, instance, request):
    """Run what the sensor asked for, as the daemon would: that month, the assets and checks it named."""
    from assets import all_assets
    from checks import all_checks
    from cityindex_pipeline.defs.resources import resources_for

    return dg.materialize(
        [*all_assets, *all_checks],
        partition_key=request.partition_key,
        resources=resources_for(settings),
        selection=dg.AssetSelection.assets(*request.asset_selection)
        | dg.AssetSelection.checks(*request.asset_check_keys),
        instance=instance,
    )


def test_a_changed_panel_file_republishes_its_month_once_per_change(tmp_path):
    settings = make_settings(tmp_path)
    source = SourceResource(kind="simulated", landing_dir=str(settings.landing_dir))
    warehouse = Warehouse(settings.warehouse_path)
    september = Month(2024, 9)
    path = panel_path(settings.landing_dir, september)
    with dg.instance_for_test() as instance:
        # A panel file of a month not yet published launches nothing: the first run will read it.
        path.parent.mkdir(parents=True)
        path.write_text("not yet a panel\n", encoding="utf-8")
        result, cursor = _tick(instance, source, None)
        assert not result.run_requests
        path.unlink()

        assert materialize(settings, september, instance=instance).success
        path.write_text(_panel_rows(warehouse, september, bump=0.0), encoding="utf-8")
        old = time.time() - 3600
        os.utime(path, (old, old))  # in place before the publication: already used, nothing to do
        result, cursor = _tick(instance, source, cursor)
        assert not result.run_requests
        assert json.loads(cursor) == {"2024-09": json.loads(cursor)["2024-09"]}

        path.write_text(_panel_rows(warehouse, september, bump=7.5), encoding="utf-8")
        result, cursor = _tick(instance, source, cursor)
        (request,) = result.run_requests
        assert request.partition_key == "2024-09-01"
        assert "raw_x" not in {key.to_user_string() for key in request.asset_selection}, "no new pull"
        assert {"qualitative_scores", "comprehensive_index", "published_index"} <= {
            key.to_user_string() for key in request.asset_selection
        }

        again, cursor = _tick(instance, source, cursor)
        assert not again.run_requests, "once per change"

        run = _run_request(settings, instance, request)
        checks = {e.asset_check_key.name: e.passed for e in run.get_asset_check_evaluations()}
        assert checks and all(checks.values()), checks
    publications = warehouse.publications(september)
    assert publications["version"].to_list() == [1, 2], "a new version; the first one stays"
    first_pulls, second_pulls = publications["pull_ids"].to_list()
    assert first_pulls == second_pulls, "the same pulls: only the panel changed"
    assert publications["qualitative_sha256"].n_unique() == 2
    index = warehouse.query("SELECT version, qualitative_score FROM publish.index WHERE city_id = 'nanjing'")
    first, second = (index.filter(version=v)["qualitative_score"][0] for v in (1, 2))
    assert second > first
