"""The monthly report: HTML with inlined charts plus PNGs, written once per published version."""

import base64
import hashlib

import dagster as dg

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.defs.check_results import check_outcomes
from cityindex_pipeline.defs.partitions import monthly, one_month_per_run
from cityindex_pipeline.defs.resources import (
    ChartsResource,
    ReportsResource,
    SettingsRecord,
    WarehouseResource,
    link_metadata,
)
from cityindex_pipeline.report.build import build_report

from .publish import published_index


@dg.asset(
    partitions_def=monthly,
    backfill_policy=one_month_per_run,
    group_name="report",
    pool="warehouse",
    deps=[published_index],
    kinds={"html"},
)
def monthly_report(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    reports: ReportsResource,
    charts: ChartsResource,  # started with the run: its drawers ready when the report is drawn
    settings: SettingsRecord,
) -> dg.MaterializeResult:
    """The latest publication of the month as a self-contained HTML report and PNG charts, in
    `$CITYINDEX_HOME/reports/YYYY-MM/vN/`; an existing version's report is kept as it is."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        report = build_report(store, reports.path, month, checks=check_outcomes(context.instance, month))
    for warning in report.warnings:
        context.log.warning(warning)
    image = base64.b64encode(report.headline_png.read_bytes()).decode("ascii")
    data_sha256 = hashlib.sha256(report.html.read_bytes()).hexdigest()
    return dg.MaterializeResult(
        data_version=dg.DataVersion(data_sha256),
        metadata={
            **settings.metadata(),
            "version": report.version,
            "new_report": report.created,
            "data_sha256": data_sha256,
            "report": dg.MetadataValue.path(str(report.html)),
            **link_metadata("report_url", reports.url_of(report.html)),
            "directory": dg.MetadataValue.path(str(report.directory)),
            "charts": len(report.pngs),
            "build_seconds": round(report.seconds, 2),
            "headline": dg.MetadataValue.md(
                f"![top ten](data:image/png;base64,{image})\n\n{report.headline_markdown}"
            ),
        },
    )
