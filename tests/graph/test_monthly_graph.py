"""A month through the whole graph into a temporary warehouse: rows, idempotency, isolation, gates."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from support.runs import in_memory_instance, make_settings, materialize

from cityindex_pipeline.audit.trace import trace_city
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import TABLES

SEPTEMBER = Month(2024, 9)
CONTENT_TABLES = [t for t in TABLES if t.split(".")[0] in ("clean", "idx")]


def content(warehouse: Warehouse, table: str, month: Month) -> pl.DataFrame:
    """A table's month without the columns that name the run and the pull, in a stable order."""
    frame = warehouse.read_month(table, month).drop("run_id", "pull_id", strict=False)
    return frame.sort(frame.columns)


MAY_BE_EMPTY = {"raw.source_problems"}  # the simulated source meets no problem files


def test_every_table_holds_the_month_with_month_and_run_id(september_warehouse):
    for table in TABLES:
        if table == "publish.publications":
            continue
        rows = september_warehouse.read_month(table, SEPTEMBER)
        assert rows.height > 0 or table in MAY_BE_EMPTY, table
        assert rows["run_id"].null_count() == 0, table
        assert rows.schema["month"] == pl.Date, table


def test_layers_have_the_expected_rows(september_warehouse):
    wh = september_warehouse
    assert wh.read_month("clean.registry_cities", SEPTEMBER).height == 133
    assert wh.read_month("idx.comprehensive_index", SEPTEMBER).height == 133
    assert wh.read_month("idx.platform_weights", SEPTEMBER).height == 4
    posts = wh.read_month("clean.posts", SEPTEMBER)
    assert set(posts["platform"]) == set(PLATFORMS)
    assert posts.select("platform", "post_id").is_duplicated().sum() == 0
    assert posts["published_at_utc"].min() >= SEPTEMBER.start_utc
    assert posts["published_at_utc"].max() < SEPTEMBER.end_utc
    active = wh.read_month("clean.registry_accounts", SEPTEMBER).filter("active")
    metrics = wh.read_month("clean.account_metrics", SEPTEMBER)
    assert metrics.height == active.height, "every active account has its month in numbers"
    for platform in PLATFORMS:
        index = wh.read_month("idx.platform_index", SEPTEMBER).filter(platform=platform)
        cities_on_platform = active.filter(platform=platform)["city_id"].n_unique()
        assert index.height == cities_on_platform
        assert index.filter("in_top_ten").height == 10
    publication = wh.publications(SEPTEMBER)
    assert publication["version"].to_list() == [1]
    assert publication["cities"][0] == 133
    published = wh.read_month("publish.index", SEPTEMBER)
    assert published["rank_p05"].null_count() == 0, "rank intervals are published beside the ranks"
    assert (published["rank_p05"] <= published["rank_p95"]).all()
    uncertainty = wh.read_month("idx.index_uncertainty", SEPTEMBER).join(
        wh.read_month("idx.comprehensive_index", SEPTEMBER), on="city_id"
    )
    assert (uncertainty["nominal_rank"] == uncertainty["rank"]).all(), (
        "the Monte Carlo's nominal run is the index"
    )


def test_absent_counts_stay_null_and_quarantine_keeps_reasons(september_warehouse):
    posts = september_warehouse.read_month("clean.posts", SEPTEMBER)
    assert posts.filter(platform="facebook")["shares"].null_count() > 0, "never-shared posts keep a null"
    assert posts.filter(platform="youtube")["likes"].null_count() > 0, "hidden likes keep a null"
    quarantine = september_warehouse.read_month("clean.quarantine", SEPTEMBER)
    assert quarantine["reason"].null_count() == 0
    assert quarantine.filter(pl.col("reason").str.starts_with("duplicate post id")).height > 0


def test_month_on_month_features_use_the_previous_month(september_warehouse):
    metrics = september_warehouse.read_month("clean.account_metrics", SEPTEMBER)
    with_growth = metrics.filter(pl.col("follower_growth").is_not_null())
    assert with_growth.height > 0.8 * metrics.height
    assert (
        with_growth["follower_growth"] == with_growth["followers"] - with_growth["followers_previous"]
    ).all()
    index = september_warehouse.read_month("idx.comprehensive_index", SEPTEMBER)
    assert index["previous_rank"].null_count() == 0


def test_trace_reconciles_every_level(september_warehouse):
    traced = trace_city(september_warehouse, "Nanjing", SEPTEMBER)
    assert traced["reconciled"], [r for r in traced["reconciliations"] if not r["ok"]]
    assert {p["platform"] for p in traced["platforms"]} == set(PLATFORMS)
    same = trace_city(september_warehouse, "南京", SEPTEMBER)
    assert same["score"] == traced["score"]


def test_rematerialising_a_month_is_idempotent_and_keeps_raw_append_only(tmp_path):
    settings = make_settings(tmp_path)
    warehouse = Warehouse(settings.warehouse_path)
    with in_memory_instance() as instance:
        assert materialize(settings, SEPTEMBER, instance=instance).success
        first = {table: content(warehouse, table, SEPTEMBER) for table in CONTENT_TABLES}
        documents = warehouse.read_month("raw.documents", SEPTEMBER).height
        assert materialize(settings, SEPTEMBER, instance=instance).success
    for table in CONTENT_TABLES:
        assert content(warehouse, table, SEPTEMBER).equals(first[table]), table
    assert warehouse.read_month("raw.documents", SEPTEMBER).height == 2 * documents, "a re-pull appends"
    assert warehouse.read_month("raw.pulls", SEPTEMBER).height == 2 * len(PLATFORMS)
    assert warehouse.publications(SEPTEMBER)["version"].to_list() == [1], "same numbers: no new version"


def test_a_month_rewritten_leaves_other_months_untouched(tmp_path):
    august = Month(2024, 8)
    settings = make_settings(tmp_path, first_month=august)
    warehouse = Warehouse(settings.warehouse_path)
    with in_memory_instance() as instance:
        assert materialize(settings, august, instance=instance).success
        assert materialize(settings, SEPTEMBER, instance=instance).success
        september_before = {t: warehouse.read_month(t, SEPTEMBER) for t in TABLES if t != "raw.documents"}
        assert materialize(settings, august, instance=instance).success
    for table, before in september_before.items():
        assert warehouse.read_month(table, SEPTEMBER).equals(before), table


def test_a_failing_blocking_check_stops_publication(tmp_path, monkeypatch):
    """The gate blocks: drop a city from the comprehensive index and the month is not published."""
    import assets.index

    settings = make_settings(tmp_path)
    warehouse = Warehouse(settings.warehouse_path)
    with in_memory_instance() as instance:
        assert materialize(settings, SEPTEMBER, instance=instance).success
        original = assets.index.method.comprehensive_index

        def losing_a_city(*args, **kwargs):
            return original(*args, **kwargs).filter(pl.col("city_id") != "nanjing")

        monkeypatch.setattr(assets.index.method, "comprehensive_index", losing_a_city)
        result = materialize(
            settings,
            SEPTEMBER,
            selection=dg.AssetSelection.assets("comprehensive_index", "published_index"),
            instance=instance,
        )
    evaluations = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["one_row_per_city"].passed
    assert evaluations["one_row_per_city"].metadata["failed_rows"].value == 1
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "published_index" not in materialized
    assert warehouse.publications(SEPTEMBER)["version"].to_list() == [1]


@pytest.mark.parametrize("city", ["Xi'an", "xian", "西安"])
def test_trace_finds_cities_by_any_name(september_warehouse, city):
    assert trace_city(september_warehouse, city, SEPTEMBER)["city"]["city_id"] == "xian"


def test_a_month_publishes_the_same_content_whatever_was_computed_before_it(september_warehouse, tmp_path):
    """History A (the session's home): August, the first month, then September. History B: September
    first, refused by the history check with nothing downstream run or published; August's account
    metrics alone, September refused by the index's history check; then August, then September. The two Septembers publish one content digest."""
    august = Month(2024, 8)
    settings = make_settings(tmp_path, first_month=august)
    warehouse = Warehouse(settings.warehouse_path)
    with in_memory_instance() as instance:
        refused = materialize(settings, SEPTEMBER, instance=instance)
        assert not refused.success
        failed = [e for e in refused.get_asset_check_evaluations() if not e.passed]
        assert [e.check_name for e in failed] == ["previous_month_computed"]
        assert "Compute 2024-08 first" in failed[0].metadata["fix"].value
        assert warehouse.read_month("idx.comprehensive_index", SEPTEMBER).height == 0, "nothing downstream"
        assert warehouse.publications(SEPTEMBER).height == 0, "nothing published"
        # August's account metrics alone (as a backfill may leave it for a while): September's clean
        # check passes, its index check refuses it, nothing is published
        upstream = dg.AssetSelection.assets("clean_account_metrics").upstream()
        assert materialize(settings, august, selection=upstream, instance=instance).success
        index_refused = materialize(settings, SEPTEMBER, instance=instance)
        assert not index_refused.success
        failed = [e for e in index_refused.get_asset_check_evaluations() if not e.passed]
        assert [(e.asset_key.to_user_string(), e.check_name) for e in failed] == [
            ("comprehensive_index", "previous_month_computed")
        ]
        assert warehouse.publications(SEPTEMBER).height == 0, "nothing published"
        for month in (august, SEPTEMBER):
            assert materialize(settings, month, instance=instance).success
    (after_august,) = september_warehouse.publications(SEPTEMBER)["content_sha256"]
    (refused_first,) = warehouse.publications(SEPTEMBER)["content_sha256"]
    assert refused_first == after_august
