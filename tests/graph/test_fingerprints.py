"""Every materialisation records a fingerprint of what it wrote: the same month materialised twice
gives the same fingerprints, and an auditor can recompute one from the warehouse's rows."""

from __future__ import annotations

import dagster as dg
from support.runs import in_memory_instance, make_settings, materialize

from cityindex_pipeline.core.fingerprint import tables_sha256
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse

AUGUST = Month(2024, 8)


def fingerprints(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        event.asset_key.to_user_string(): event.materialization.metadata["data_sha256"].value
        for event in result.get_asset_materialization_events()
    }


def test_every_asset_records_a_fingerprint_that_a_rerun_reproduces_and_the_rows_recompute(tmp_path):
    settings = make_settings(tmp_path, first_month=AUGUST)
    with in_memory_instance() as instance:
        first = materialize(settings, AUGUST, instance=instance)
        second = materialize(settings, AUGUST, instance=instance)
    assert first.success and second.success
    once, again = fingerprints(first), fingerprints(second)
    assert len(once) == len(first.get_asset_materialization_events()), "one per asset"
    assert all(len(digest) == 64 for digest in once.values())
    assert once == again, {key: (once[key], again.get(key)) for key in once if once[key] != again.get(key)}
    versions = {
        event.asset_key.to_user_string(): event.materialization.tags.get("dagster/data_version")
        for event in first.get_asset_materialization_events()
    }
    assert versions == once, "Dagster's data version is the fingerprint"

    warehouse = Warehouse(settings.warehouse_path)
    (publication,) = [
        e.materialization.metadata
        for e in first.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "published_index"
    ]
    recorded_pulls = warehouse.publications(AUGUST)["pull_ids"][0].to_list()
    assert publication["pull_ids"].value == recorded_pulls and len(recorded_pulls) == 4
    assert (settings.exports_dir / "2024-08" / "v1").samefile(publication["export"].value)
    written = {table: warehouse.read_month(table, AUGUST) for table in ("clean.posts", "clean.quarantine")}
    assert tables_sha256(written) == once["clean_posts"]
    assert (
        tables_sha256({"idx.comprehensive_index": warehouse.read_month("idx.comprehensive_index", AUGUST)})
        == (once["comprehensive_index"])
    )
