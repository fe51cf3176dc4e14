import re
from pathlib import Path

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings
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


def test_every_asset_is_tagged_with_its_layer_and_where_its_data_come_from():
    for source, provenance in (("simulated", "simulated"), ("files", "vendor-drop"), ("api", "platform-api")):
        graph = build_definitions(
            Settings(home=Path("/nonexistent"), source=source, seed=1)
        ).resolve_asset_graph()
        tags = {key.to_user_string(): graph.get(key).tags for key in graph.get_all_asset_keys()}
        assert {name: t["layer"] for name, t in tags.items()} == {
            name: graph.get(dg.AssetKey(name)).group_name for name in tags
        }
        assert tags["raw_x"]["provenance"] == tags["comprehensive_index"]["provenance"] == provenance
        assert tags["account_registry"]["provenance"] == "repository-file"
        assert tags["qualitative_scores"]["provenance"] == "panel-file-or-simulated"


def test_no_description_holds_what_the_ui_would_take_for_an_html_tag():
    """The UI renders descriptions as Markdown: `exports/<YYYY-MM>/` would show as `exports//`."""
    graph = build_definitions().resolve_asset_graph()
    described = {key.to_user_string(): graph.get(key).description or "" for key in graph.get_all_asset_keys()}
    described |= {str(key): graph.get(key).description or "" for key in graph.asset_check_keys}
    assert all(described.values()), [name for name, text in described.items() if not text]
    tag_like = {name: text for name, text in described.items() if re.search(r"<[A-Za-z/]", text)}
    assert not tag_like, tag_like
