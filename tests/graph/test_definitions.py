import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.definitions import build_definitions
from cityindex_pipeline.defs.partitions import is_partition, monthly, monthly_partitions
from cityindex_pipeline.quality.settling import month_settled, publishable_from

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
    earlier = monthly_partitions(Month(2022, 6), 5)
    assert earlier.get_first_partition_key() == "2022-06-01" and earlier.timezone == "Asia/Shanghai"


@pytest.mark.parametrize("delay_days", [0, 1, 5, 13, 27])
def test_a_month_becomes_a_partition_at_the_instant_it_may_be_published(delay_days):
    """The partition bar and "Latest" never offer a month `month_has_settled` would refuse, and a
    settled month is offered at once: Dagster's boundary is `publishable_from` to the second."""
    partitions = monthly_partitions(Month(2024, 7), delay_days)
    for month in (Month(2024, 9), Month(2025, 1), Month(2025, 2)):
        opens = publishable_from(month, delay_days)
        just_before, at = opens - timedelta(seconds=1), opens
        assert (
            not month_settled(month, just_before, delay_days).passed
            and month_settled(month, at, delay_days).passed
        )
        assert partitions.get_partition_keys(current_time=just_before)[-1] == month.previous().partition_key
        assert partitions.get_partition_keys(current_time=at)[-1] == month.partition_key
        assert not is_partition(month, partitions, now=just_before) and is_partition(
            month, partitions, now=at
        )
    assert not is_partition(Month(2024, 6), partitions, now=datetime(2026, 1, 1, tzinfo=UTC)), (
        "before the first"
    )


def test_partition_keys_name_calendar_months_and_their_windows_end_when_the_month_settles():
    """The key is the calendar month (`Month.from_partition_key`, what every step reads); Dagster's
    time window of the partition is shifted by the offset, so it ends at the month's settling instant
    (nothing here reads the window)."""
    partitions = monthly_partitions(Month(2024, 7), 5)
    now = datetime(2024, 12, 31, tzinfo=UTC)
    assert partitions.get_partition_keys(current_time=now) == [
        "2024-07-01", "2024-08-01", "2024-09-01", "2024-10-01", "2024-11-01"
    ]  # fmt: skip
    assert [Month.from_partition_key(k) for k in partitions.get_partition_keys(current_time=now)][2] == Month(
        2024, 9
    )
    window = partitions.time_window_for_partition_key("2024-09-01")
    assert window.end == publishable_from(Month(2024, 9), 5) == datetime(2024, 10, 5, 16, tzinfo=UTC)
    assert partitions.get_partition_key_range_for_time_window(window).start == "2024-09-01"


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
