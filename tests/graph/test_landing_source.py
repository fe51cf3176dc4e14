"""CITYINDEX_SOURCE=files: a landing drop through the graph, and the sensor that launches it."""

from __future__ import annotations

import dataclasses
import json

import dagster as dg
import polars as pl
from conftest import make_settings, materialize
from landing_helpers import lay_out_month, write_landing

from cityindex_pipeline import PLATFORMS
from cityindex_pipeline.months import Month
from cityindex_pipeline.qualitative import panel_path
from cityindex_pipeline.registry import load_registry
from cityindex_pipeline.resources import SourceResource
from cityindex_pipeline.sensors import landing_drop_sensor
from cityindex_pipeline.sources.landing import COMPLETE_MARKER
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.warehouse import Warehouse

SEPTEMBER = Month(2024, 9)
LINEAGE = ("run_id", "pull_id", "fetched_at", "location")  # where and when, not what


def clean_content(warehouse: Warehouse, table: str) -> pl.DataFrame:
    frame = warehouse.read_month(table, SEPTEMBER).drop(*LINEAGE, strict=False)
    return frame.sort(frame.columns)


def test_files_source_gives_the_same_clean_tables_as_the_documents_it_holds(tmp_path):
    simulated = make_settings(tmp_path / "simulated")
    files = dataclasses.replace(make_settings(tmp_path / "files"), source="files")
    lay_out_month(files.landing_dir, SEPTEMBER)
    with dg.instance_for_test() as instance:
        assert materialize(simulated, SEPTEMBER, instance=instance).success
        result = materialize(files, SEPTEMBER, instance=instance)
        assert result.success
    expected, actual = Warehouse(simulated.warehouse_path), Warehouse(files.warehouse_path)
    for table in ("clean.posts", "clean.account_metrics", "clean.quarantine", "idx.comprehensive_index"):
        assert clean_content(actual, table).equals(clean_content(expected, table)), table
    sources = actual.read_month("raw.documents", SEPTEMBER)["source"].unique().to_list()
    assert sources == ["files"]


def test_a_bad_file_is_reported_in_metadata_and_kept_while_the_month_goes_on(tmp_path):
    files = dataclasses.replace(make_settings(tmp_path), source="files")
    lay_out_month(files.landing_dir, SEPTEMBER)
    handle = load_registry().accounts_for("instagram")[0].account_handle
    (files.landing_dir / "instagram" / "2024-09" / handle / "stories.json").write_text("{}", encoding="utf-8")
    with dg.instance_for_test() as instance:
        result = materialize(files, SEPTEMBER, instance=instance)
    assert result.success
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "raw_instagram"
    ]
    metadata = event.materialization.metadata
    assert metadata["problems"].value == 1
    assert metadata["problem_files"].value[0]["location"].endswith(f"{handle}/stories.json")
    kept = Warehouse(files.warehouse_path).read_month("raw.source_problems", SEPTEMBER)
    assert kept["reason"].to_list() == ["unknown endpoint 'stories' (known: user, media, media_insights)"]
    assert kept["content"].to_list() == [b"{}"]


def test_an_incomplete_drop_fails_the_raw_asset_and_nothing_is_published(tmp_path):
    files = dataclasses.replace(make_settings(tmp_path), source="files")
    lay_out_month(files.landing_dir, SEPTEMBER)
    (files.landing_dir / "youtube" / "2024-09" / COMPLETE_MARKER).unlink()
    with dg.instance_for_test() as instance:
        result = materialize(files, SEPTEMBER, instance=instance)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "raw_youtube"
    assert "_COMPLETE is missing" in failure.event_specific_data.error.cause.message
    assert Warehouse(files.warehouse_path).publications(SEPTEMBER).height == 0


def test_the_sensor_launches_each_complete_drop_once(tmp_path):
    files = dataclasses.replace(make_settings(tmp_path), source="files")
    source = SourceResource(kind="files", landing_dir=str(files.landing_dir))
    registry = load_registry()
    for platform in PLATFORMS:
        write_landing(
            files.landing_dir,
            SimulatedSource().pull(SEPTEMBER, platform, registry.accounts_for(platform)[:2]),
        )
    with dg.instance_for_test() as instance:
        first = landing_drop_sensor(dg.build_sensor_context(instance=instance, resources={"source": source}))
        (request,) = first.run_requests
        assert request.partition_key == "2024-09-01"
        again = landing_drop_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"source": source})
        )
        assert isinstance(again, dg.SkipReason), "the same drop is not launched twice"
        (files.landing_dir / "x" / "2024-09" / COMPLETE_MARKER).write_text("redelivered", encoding="utf-8")
        redrop = landing_drop_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"source": source})
        )
        (rerun,) = redrop.run_requests
        assert rerun.partition_key == "2024-09-01" and rerun.run_key != request.run_key
        assert json.loads(redrop.cursor)["2024-09"] != json.loads(first.cursor)["2024-09"]
    simulated = SourceResource(kind="simulated")
    with dg.instance_for_test() as instance:
        skipped = landing_drop_sensor(
            dg.build_sensor_context(instance=instance, resources={"source": simulated})
        )
    assert isinstance(skipped, dg.SkipReason)


def test_a_month_without_a_panel_file_carries_the_last_one_forward_flagged(tmp_path):
    files = dataclasses.replace(make_settings(tmp_path), source="files")
    august = Month(2024, 8)
    lay_out_month(files.landing_dir, august)
    lay_out_month(files.landing_dir, SEPTEMBER)
    panel_path(files.landing_dir, SEPTEMBER).unlink()  # September's panel has not come in
    with dg.instance_for_test() as instance:
        assert materialize(files, august, instance=instance).success
        assert materialize(files, SEPTEMBER, instance=instance).success
    warehouse = Warehouse(files.warehouse_path)
    given, carried = (warehouse.read_month("idx.qualitative_scores", m) for m in (august, SEPTEMBER))
    assert given["carried_from"].null_count() == given.height
    assert set(carried["carried_from"]) == {august.first_day}, "flagged with the month the scores were given"
    assert (
        carried.drop("month", "run_id", "carried_from")
        .sort(["city_id", "rater", "criterion"])
        .equals(given.drop("month", "run_id", "carried_from").sort(["city_id", "rater", "criterion"]))
    )
