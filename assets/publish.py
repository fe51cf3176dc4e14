"""Publication: the gated, immutable, versioned monthly index."""

import dagster as dg

from cityindex_pipeline import PLATFORMS
from cityindex_pipeline.months import Month
from cityindex_pipeline.partitions import monthly
from cityindex_pipeline.publication import publication_rows, publish_month
from cityindex_pipeline.render import markdown_table
from cityindex_pipeline.resources import WarehouseResource

from .index import comprehensive_index, index_uncertainty


@dg.asset(
    partitions_def=monthly,
    group_name="publish",
    pool="warehouse",
    deps=[comprehensive_index, index_uncertainty],
    kinds={"duckdb"},
)
def published_index(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The month's index as published: a new version only when the numbers changed; old versions stay."""
    month = Month.from_partition_key(context.partition_key)
    store = warehouse.get()
    comprehensive = store.read_month("idx.comprehensive_index", month)
    rows = publication_rows(
        comprehensive,
        store.read_month("idx.platform_index", month),
        store.read_month("clean.registry_cities", month),
        store.read_month("idx.index_uncertainty", month),
    )
    pulls = [store.latest_pull(month, platform) for platform in PLATFORMS]
    publication = publish_month(
        store,
        month,
        context.run.run_id,
        rows,
        methodology_version=comprehensive["methodology_version"][0],
        registry_version=store.read_month("clean.registry_cities", month)["registry_version"][0],
        pull_ids=[pull["pull_id"] for pull in pulls if pull is not None],
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows.height,
            "version": publication.version,
            "new_version": publication.created,
            "content_sha256": publication.content_sha256,
            "top_ten": dg.MetadataValue.md(
                markdown_table(
                    rows.head(10).select(
                        "rank", "rank_p05", "rank_p95", "name_en", "name_zh", "score", "rank_change"
                    )
                )
            ),
        }
    )
