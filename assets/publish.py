"""Publication: the gated, immutable, versioned monthly index."""

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.render import markdown_table
from cityindex_pipeline.defs.check_results import check_outcomes
from cityindex_pipeline.defs.partitions import monthly, one_month_per_run
from cityindex_pipeline.defs.resources import (
    MonthHistory,
    PublicationResource,
    PublishOptions,
    SettingsRecord,
    WarehouseResource,
    link_metadata,
)
from cityindex_pipeline.publication.previous_month import (
    PREVIOUS_MONTH_GATE,
    built_from_previous_month,
    pinned_rows,
    read_month_tables,
    read_previous_month,
)
from cityindex_pipeline.publication.publish import publish_month
from cityindex_pipeline.publication.records import (
    GateRecord,
    Provenance,
    code_version,
    inputs_fingerprint,
    publication_rows,
)
from cityindex_pipeline.quality.gates import GATES, decide, evaluated_now

from .index import comprehensive_index, index_uncertainty, platform_index_assets


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="publish",
    pool="warehouse",
    deps=[comprehensive_index, index_uncertainty, *platform_index_assets],
    kinds={"duckdb", "parquet"},
    op_tags={"dagster/priority": "-10"},  # after every check ready in the same run (see checks/results.py)
)
def published_index(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    publication: PublicationResource,
    publish_options: PublishOptions,
    history: MonthHistory,
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """The month's index as published, only if every ERROR check of the month passed (or was
    overridden with a reason) on the latest materialisation of its asset, in this run or an earlier
    one: a new immutable version when numbers, inputs or method changed, exported to
    `$CITYINDEX_HOME/exports/YYYY-MM/vN/`."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        with store.snapshot():  # the month and what it read of the previous one, as of one moment
            own = read_month_tables(store, month)
            previous = read_previous_month(store, month, history.first)
            cities = store.read_month("clean.registry_cities", month)
            uncertainty = store.read_month("idx.index_uncertainty", month)
            pulls = [store.latest_pull(month, platform) for platform in PLATFORMS]
            # the documents' keys and sha256 only: the fingerprint never reads a body
            documents = store.document_keys([str(pull["pull_id"]) for pull in pulls if pull is not None])
        override = publish_options.override_errors.strip()
        consistency = built_from_previous_month(month, own, previous.tables)
        outcomes = [o for o in check_outcomes(context.instance, month) if o.key != PREVIOUS_MONTH_GATE]
        outcomes.append(evaluated_now(PREVIOUS_MONTH_GATE, consistency, override))
        verdict = decide(outcomes)
        if not verdict.publishable:
            raise dg.Failure(
                description=f"{month} is not published.\n{verdict.message()}",
                metadata={
                    "failed_checks": dg.MetadataValue.json(verdict.failed),
                    "checks_not_run": dg.MetadataValue.json(verdict.missing),
                    "checks_running": dg.MetadataValue.json(verdict.running),
                },
                allow_retries=False,
            )
        comprehensive, qualitative = own["idx.comprehensive_index"], own["idx.qualitative_scores"]
        rows = publication_rows(comprehensive, own["idx.platform_index"], cities, uncertainty)
        inputs_sha256, qualitative_sha256 = inputs_fingerprint(documents, qualitative)
        published = publish_month(
            store,
            month,
            context.run.run_id,
            rows,
            provenance=Provenance(
                methodology_version=comprehensive["methodology_version"][0],
                registry_version=cities["registry_version"][0],
                pull_ids=[str(pull["pull_id"]) for pull in pulls if pull is not None],
                inputs_sha256=inputs_sha256,
                raw_documents=documents.height,
                qualitative_sha256=qualitative_sha256,
                code_version=code_version(),
                previous_version=previous.published_version,
                previous_inputs_sha256=previous.sha256,
            ),
            exports_dir=publication.exports_path,
            gate=GateRecord(
                passed=len(GATES) - len(verdict.warnings) - len(verdict.overridden),
                warnings=verdict.warnings,
                overridden=verdict.overridden,
                override_reason=override if verdict.overridden else "",
            ),
            reason=publish_options.reason,
            qualitative=qualitative,
            previous_inputs=pinned_rows(previous.month, previous.tables),
        )
        for line in published.healed:
            context.log.warning(f"healed before publishing: {line}")
        if verdict.overridden:
            context.log.warning(
                f"{month} published over {len(verdict.overridden)} failed ERROR check(s) "
                f"({', '.join(verdict.overridden)}): {override}"
            )
        export_folder = publication.exports_path / (published.record.get("export_dir") or "")
        return dg.MaterializeResult(
            data_version=dg.DataVersion(published.content_sha256),
            metadata={
                **settings.metadata(),
                "dagster/row_count": rows.height,
                "version": published.version,
                "new_version": published.created,
                "reason": published.reason,
                "data_sha256": published.content_sha256,
                "content_sha256": published.content_sha256,
                "inputs_sha256": inputs_sha256,
                "code_version": published.record.get("code_version") or "",
                "export": dg.MetadataValue.path(str(export_folder)),
                **link_metadata("export_url", publication.url_of(export_folder)),
                "pull_ids": dg.MetadataValue.json(published.record.get("pull_ids") or []),
                "previous_month": f"{previous.month} "
                + (f"v{previous.published_version}" if previous.published_version else "(unpublished rows)"),
                "previous_inputs_sha256": previous.sha256,
                "trace": f"cityindex trace --city {rows['city_id'][0]} --month {month} --publication v{published.version}",
                "verify": f"cityindex verify --month {month} --publication v{published.version}",
                "warnings": dg.MetadataValue.json(verdict.warnings),
                "overridden_checks": dg.MetadataValue.json(verdict.overridden),
                "healed": dg.MetadataValue.json(published.healed),
                "override_reason": override if verdict.overridden else "",
                "top_ten": dg.MetadataValue.md(
                    markdown_table(
                        rows.head(10).select(
                            "rank", "rank_p05", "rank_p95", "name_en", "name_zh", "score", "rank_change"
                        )
                    )
                ),
            },
        )
