"""What the UI shows for every asset: description, layer group, kinds, owner, table, columns, source."""

from __future__ import annotations

import dagster as dg
import pytest

from cityindex_pipeline.definitions import build_definitions
from cityindex_pipeline.defs.catalog import OWNER, WAREHOUSE_TABLES, table_schema
from cityindex_pipeline.warehouse.tables import DECLARED, TABLES, column_definitions

LAYERS = {"registry", "raw", "clean", "index", "publish"}


@pytest.fixture(scope="module")
def graph():
    return build_definitions().resolve_asset_graph()


def test_every_asset_says_what_it_is_who_owns_it_and_where_its_code_is(graph):
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description and len(node.description) > 20, name
        assert node.group_name in LAYERS | {"report"}, (name, node.group_name)
        assert OWNER in node.owners, name
        assert node.kinds, name
        assert node.code_version and len(node.code_version) == 16, name  # a digest of the pipeline's code
        references = node.metadata["dagster/code_references"].code_references
        assert any(ref.file_path.endswith(".py") and ref.line_number for ref in references), name


def test_every_warehouse_asset_names_its_table_and_columns(graph):
    warehouse_assets = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in LAYERS]
    assert len(warehouse_assets) == len(WAREHOUSE_TABLES)
    for key in warehouse_assets:
        node = graph.get(key)
        name = key.to_user_string()
        assert {"duckdb", "polars"} <= node.kinds, name
        table = node.metadata["dagster/table_name"]
        assert table.removeprefix("warehouse.") in TABLES, name
        schema = node.metadata["dagster/column_schema"]
        schema = getattr(schema, "schema", schema)  # a TableSchema, or its metadata value
        expected = [column for column, _ in column_definitions(TABLES[table.removeprefix("warehouse.")])]
        assert [column.name for column in schema.columns] == expected, name
        assert {"month", "run_id"} <= {column.name for column in schema.columns}, name
        month = next(c for c in schema.columns if c.name == "month")
        assert month.type == "DATE" and not month.constraints.nullable


def test_the_column_schema_shows_what_each_column_holds_with_its_type_and_nullability():
    metrics = {column.name: column for column in table_schema("clean.account_metrics").columns}
    previous = metrics["followers_previous"]
    assert previous.type == "BIGINT" and previous.constraints.nullable
    assert previous.description == next(
        c.doc for c in DECLARED["clean.account_metrics"].columns if c.name == "followers_previous"
    )
    assert previous.description.startswith("followers at the end of the previous month")
    posts = metrics["posts"]
    assert posts.type == "BIGINT" and not posts.constraints.nullable
    assert posts.description == "posts published in the month (Beijing time)"
    pull = next(c for c in table_schema("raw.pulls").columns if c.name == "pull_id")
    assert pull.constraints.unique and pull.constraints.other == ["PRIMARY KEY"]
    assert "NOT NULL" not in " ".join(c.description for c in table_schema("publish.index").columns)


def test_every_layer_has_its_group(graph):
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups >= LAYERS


def test_the_published_index_is_due_by_the_settling_day_of_the_next_month(graph):
    policy = graph.get(dg.AssetKey("published_index")).freshness_policy
    assert policy.deadline_cron == "59 23 6 * *", "the default schedule day: 1 + the publication delay"
    assert policy.timezone == "Asia/Shanghai"
    assert policy.lower_bound_delta.days == 6
    others = [k for k in graph.get_all_asset_keys() if k != dg.AssetKey("published_index")]
    assert all(graph.get(k).freshness_policy is None for k in others)


def test_column_lineage_names_real_columns_of_real_upstream_assets(graph):
    from cityindex_pipeline.defs.catalog import WAREHOUSE_TABLES
    from cityindex_pipeline.defs.lineage import COLUMN_LINEAGE

    def columns_of(asset: str) -> set[str]:
        return {c for table in WAREHOUSE_TABLES[asset] for c, _ in column_definitions(TABLES[table])}

    for asset, lineage in COLUMN_LINEAGE.items():
        node = graph.get(dg.AssetKey(asset))
        declared = node.metadata["dagster/column_lineage"]
        declared = getattr(declared, "column_lineage", declared)
        assert set(declared.deps_by_column) == set(lineage), asset
        upstream = {key.to_user_string() for key in node.parent_keys} | {asset}
        for column, deps in lineage.items():
            assert column in columns_of(asset), (asset, column)
            for source, name in deps:
                assert source in upstream, (asset, column, source)
                assert name in columns_of(source), (asset, column, source, name)
    published = COLUMN_LINEAGE["published_index"]
    assert ("raw_facebook", "body") in COLUMN_LINEAGE["clean_posts"]["likes"]
    assert ("platform_index_facebook", "score") in published["facebook_score"]
