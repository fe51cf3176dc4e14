import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.definitions import build_definitions
from cityindex_pipeline.defs.partitions import monthly, monthly_partitions

EXPECTED_ASSETS = {
    "account_registry", "platform_reference", "raw_facebook", "raw_x", "raw_instagram", "raw_youtube",
    "clean_posts", "clean_account_metrics", "platform_indicators", "platform_index_facebook", "platform_index_x",
    "platform_index_instagram", "platform_index_youtube", "platform_weights", "qualitative_scores",
    "comprehensive_index", "index_uncertainty", "published_index", "monthly_report",
}  # fmt: skip


def test_definitions_load_with_every_layer_partitioned_by_month():
    definitions = build_definitions()
    graph = definitions.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS
    for key in graph.get_all_asset_keys():
        assert graph.get(key).partitions_def == monthly, key
    job = definitions.resolve_job_def("monthly_index")
    assert job.partitions_def == monthly


def test_lineage_runs_raw_to_published():
    graph = build_definitions().resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("published_index")).parent_keys
    assert dg.AssetKey("comprehensive_index") in upstream
    ancestors = graph.upstream_key_iterator(dg.AssetKey("published_index"))
    assert {dg.AssetKey(f"raw_{p}") for p in ("facebook", "x", "instagram", "youtube")} <= set(ancestors)


def test_monthly_partitions_use_beijing_time_from_the_first_month_of_coverage():
    assert monthly.timezone == "Asia/Shanghai"
    assert monthly.get_first_partition_key() == "2024-07-01", "CITYINDEX_FIRST_MONTH's default"
    earlier = monthly_partitions(Month(2022, 6))
    assert earlier.get_first_partition_key() == "2022-06-01" and earlier.timezone == "Asia/Shanghai"
