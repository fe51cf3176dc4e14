"""Checks of what a month releases, once it is written: the version's export against its manifest and
digest, the months published on time, and the report's charts and font. They follow the publication
(`gates.RELEASE_CHECKS`)."""

import dagster as dg

from assets.publish import published_index
from assets.report import monthly_report
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.defs.resources import (
    MonthHistory,
    PublicationResource,
    PublishOptions,
    ReportsResource,
    WarehouseResource,
)
from cityindex_pipeline.publication.integrity import verify_publication
from cityindex_pipeline.quality import release_rules, settling
from cityindex_pipeline.quality.gates import gates_of
from cityindex_pipeline.report.build import report_directory, report_files
from cityindex_pipeline.warehouse.publication_tables import published_months

from .results import RUN_FIRST, check_result, specs


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(gates_of(published_index.key.to_user_string())))
def publication_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    publication: PublicationResource,
    history: MonthHistory,
    publish_options: PublishOptions,
):
    """The latest version of the month intact (export, manifest and digest agree), and no gap in the
    published history before it (freshness month by month: each evaluation covers every month)."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        versions = store.publications(month)
        record = versions.sort("version").row(-1, named=True) if versions.height else None
        problems = verify_publication(store, publication.exports_path, month, record) if record else []
        findings = {
            "publication_intact": release_rules.publication_intact(
                str(month), record["version"] if record else None, problems
            ),
            "months_published_on_time": settling.months_published_on_time(
                history.first, publication.now(), publication.schedule_day, published_months(store)
            ),
        }
        for published_gate in gates_of("published_index"):
            yield check_result(
                "published_index", published_gate.name, findings[published_gate.name], publish_options
            )


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(gates_of(monthly_report.key.to_user_string())))
def report_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    reports: ReportsResource,
    publish_options: PublishOptions,
):
    """The report of the month's latest version holds every chart, drawn with a font for Chinese."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        versions = store.publications(month)
    version = int(versions["version"].max()) if versions.height else 0
    files = report_files(report_directory(reports.path, month, version))
    findings = {
        "report_complete": release_rules.report_complete(
            files["charts"], files["image_bytes"], files["inline_svgs"]
        ),
        "report_has_cjk_font": release_rules.report_has_cjk_font(files["font"]),
    }
    for report_gate in gates_of("monthly_report"):
        yield check_result("monthly_report", report_gate.name, findings[report_gate.name], publish_options)


release_checks = [publication_checks, report_checks]
