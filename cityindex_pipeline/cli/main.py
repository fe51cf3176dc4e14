"""`cityindex`: materialise months, read the index, trace a score, open the Dagster UI. The commands
and their options; what they print is in `output` and `trace_tree`, what they are given in `arguments`."""

from __future__ import annotations

import sys
import time

import click

from cityindex_pipeline.cli import arguments, output
from cityindex_pipeline.cli.bench_command import bench
from cityindex_pipeline.cli.output import console
from cityindex_pipeline.core.months import Month, backfill_title
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.render import json_text, terminal_text
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.method.config import UnknownMethodologyVersion, load_methodology
from cityindex_pipeline.warehouse.cli_reads import platform_top_ten
from cityindex_pipeline.warehouse.publication_tables import published_index
from cityindex_pipeline.warehouse.store import Warehouse

DEMO_MONTHS = ("2024-07", "2024-08", "2024-09")


def _print_text(line: str) -> None:
    """A line made of data (the run's progress: step names, failing rows, error messages), printed as
    the text it is."""
    console.print(terminal_text(line))


@click.group(cls=arguments.Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The Communication Impact Index on Overseas Social Media of 133 Chinese cities.

    Data lives in $CITYINDEX_HOME (default ./.cityindex); the source is $CITYINDEX_SOURCE
    (default: simulated, no credentials needed).
    """


@main.command()
@click.option(
    "--month", "months", multiple=True, help="Months to materialise (default 2024-07, 2024-08, 2024-09)."
)
def demo(months: tuple[str, ...]) -> None:
    """Materialise the demo months from the simulated source and print the last month's top ten."""
    settings = arguments.settings()
    chosen = [Month.parse(m) for m in (months or DEMO_MONTHS)]
    arguments.require_history(settings, min(chosen))
    started = time.monotonic()
    for month in sorted(chosen):
        _run_month(settings, month)
    last = max(chosen)
    console.print()
    _print_top(Warehouse(settings.warehouse_path), last, None)
    counts = Warehouse(settings.warehouse_path).table_counts()
    output.print_demo_done(settings, len(chosen), time.monotonic() - started, counts)
    output.print_where_next(settings, last)


@main.command()
@click.option("--month", required=True, callback=arguments.month, help="The month, YYYY-MM.")
@click.option("--to", "until", callback=arguments.month, help="Last month of a range (inclusive), YYYY-MM.")
@click.option(
    "--reason",
    default="",
    help="Why this run publishes a new version (recorded with it); default: what changed.",
)
@click.option(
    "--override-errors",
    "override_errors",
    default="",
    metavar="REASON",
    help="Publish even if ERROR checks fail; the reason and the failed checks are recorded.",
)
def materialize(month: Month, until: Month | None, reason: str, override_errors: str) -> None:
    """Run the monthly job for a month (or a range, in order), in process, with progress."""
    settings = arguments.settings()
    months = Month.range(month, until or month)
    if not months:
        raise click.BadParameter("--to is before --month")
    for chosen in months:  # a month not yet a partition is refused as such first, before its history
        arguments.require_partition(settings, chosen)
    if not override_errors.strip():  # with an override the run's check reports it, overridden
        arguments.require_history(settings, month)
    failures = [
        m for m in months if not _run_month(settings, m, reason=reason, override_errors=override_errors)
    ]
    if failures:
        raise click.ClickException(f"{len(failures)} month(s) failed: {', '.join(map(str, failures))}")


def _run_month(settings: Settings, month: Month, *, reason: str = "", override_errors: str = "") -> bool:
    arguments.require_partition(settings, month)
    with Warehouse(settings.warehouse_path).connect():
        pass  # a damaged or lost warehouse stops here, with its message, before any step runs
    from cityindex_pipeline.cli.runner import MonthBusyError, materialize_month

    console.print(f"[bold]{month}[/]: materialising every asset from the {settings.source} source")
    started = time.monotonic()
    try:
        run = materialize_month(
            settings, month, printer=_print_text, reason=reason, override_errors=override_errors
        )
    except MonthBusyError as busy:
        raise click.ClickException(str(busy)) from None
    output.print_run(month, run, time.monotonic() - started)
    return run.success


@main.command()
@click.option("--month", required=True, callback=arguments.month, help="The month, YYYY-MM.")
@click.option(
    "--platform", type=click.Choice(PLATFORMS), help="A platform's top ten instead of the overall one."
)
def top(month: Month, platform: str | None) -> None:
    """Print the published top ten of a month, overall or for one platform."""
    _print_top(arguments.warehouse(), month, platform)


def _print_top(warehouse: Warehouse, month: Month, platform: str | None) -> None:
    if platform is None:
        publications = warehouse.publications(month)
        if publications.height == 0:
            raise click.ClickException(f"{month} has not been published")
        version = int(publications["version"].max())
        rows = published_index(warehouse, month, version).head(10)
        title = (
            f"Communication Impact Index on Overseas Social Media — top ten, {month} (published v{version})"
        )
    else:
        rows = platform_top_ten(warehouse, month, platform)
        title = f"{platform} index — top ten, {month}"
    version = publications["methodology_version"][-1] if platform is None else None
    alphabetical = _top_ten_order(warehouse, month, version) == "alphabetical"  # published unordered
    output.print_top(rows, title, alphabetical=alphabetical, intervals=platform is None)


def _top_ten_order(warehouse: Warehouse, month: Month, version: str | None) -> str:
    """`ranked` or `alphabetical`, as the methodology that computed the month (or publication) says."""
    if version is None:
        versions = warehouse.read_month("idx.comprehensive_index", month, ["methodology_version"])
        if versions.height == 0:
            return "ranked"
        version = versions["methodology_version"][0]
    try:
        return load_methodology(version).top_ten_order
    except UnknownMethodologyVersion:
        return load_methodology().top_ten_order


@main.command()
@click.option("--city", required=True, help="City id, English name or Chinese name (Xi'an, xian, 西安).")
@click.option("--month", required=True, callback=arguments.month, help="The month, YYYY-MM.")
@click.option("--platform", type=click.Choice(PLATFORMS), help="Posts and documents of this platform only.")
@click.option(
    "--publication",
    "version",
    callback=arguments.version,
    help="The publication traced, vN (default: the latest).",
)
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON.")
def trace(city: str, month: Month, platform: str | None, version: int | None, as_json: bool) -> None:
    """Decompose a published score down to the posts and raw documents it came from."""
    from cityindex_pipeline.audit.trace import TraceError, trace
    from cityindex_pipeline.cli.trace_tree import print_trace

    try:
        traced = trace(arguments.warehouse(), city, month, platform=platform, version=version)
    except TraceError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json_text(traced.as_dict()))
    else:
        print_trace(traced)
    if not traced.reconciled:
        sys.exit(1)


@main.command()
@click.option("--month", required=True, callback=arguments.month, help="The month, YYYY-MM.")
@click.option("--publication", "publication", help="The version, vN (default: the latest).")
def report(month: Month, publication: str | None) -> None:
    """Write the month's report (HTML with its charts, and PNGs) under $CITYINDEX_HOME/reports."""
    from cityindex_pipeline.report.build import build_report
    from cityindex_pipeline.report.content import ReportError

    version = None
    if publication is not None:
        text = publication.strip().lower().removeprefix("v")
        if not text.isdigit() or int(text) < 1:
            raise click.BadParameter(f"expected a version such as v1, got {publication!r}")
        version = int(text)
    settings = arguments.settings()
    try:
        built = build_report(
            arguments.warehouse(),
            settings.reports_dir,
            month,
            version,
            checks=arguments.recorded_checks(settings, month),
        )
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    output.print_report(month, built)


@main.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--files-port", default=3001, show_default=True, help="Reports and exports server (0: none).")
def dev(port: int, files_port: int) -> None:
    """Start the Dagster UI and daemon (`dg dev`) on 127.0.0.1 for this CITYINDEX_HOME, and beside it
    a read-only server of its reports and exports, which the assets' metadata link to."""
    from cityindex_pipeline.cli.instance import ensure_dagster_home
    from cityindex_pipeline.cli.services import ServicesError, exec_dev

    settings = arguments.settings()
    ensure_dagster_home(settings)
    try:
        exec_dev(port, files_of=settings.home if files_port else None, files_port=files_port)
    except ServicesError as error:
        raise click.ClickException(str(error)) from None


@main.command()
def tables() -> None:
    """Rows per table of the warehouse."""
    output.print_table_counts(arguments.warehouse().table_counts())


@main.command()
@click.option("--month", required=True, callback=arguments.month, help="The month, YYYY-MM.")
@click.option(
    "--publication",
    "version",
    callback=arguments.version,
    help="The version recomputed, vN (default: the latest).",
)
@click.option("--json", "as_json", is_flag=True, help="The recomputation's result as JSON.")
def verify(month: Month, version: int | None, as_json: bool) -> None:
    """Check every published version of a month against its export and manifest, then recompute one
    from the inputs it recorded, in memory, and compare number by number."""
    from cityindex_pipeline.cli.recompute import verify_month
    from cityindex_pipeline.publication.records import PublicationError

    try:
        result = verify_month(arguments.settings(), arguments.warehouse(), month, version)
    except PublicationError as error:
        raise click.ClickException(str(error)) from None
    for line in result.healed:
        if as_json:
            click.echo(f"healed: {line}", err=True)
        else:
            console.print(f"[yellow]healed:[/] {line}")
    if not result.checked:
        raise click.ClickException(f"{month} has not been published")
    broken = sum(bool(problems) for _, problems in result.checked)
    if not as_json:
        output.print_publications(month, result.checked)
    if result.refused:
        raise click.ClickException(result.refused)
    verified = result.verification
    if as_json:
        click.echo(json_text(verified.as_dict()))
    else:
        output.print_verification(verified)
    if broken:
        raise click.ClickException(f"{broken} version(s) of {month} do not match what was published")
    if not verified.matches:
        raise click.ClickException(f"v{verified.version} of {month} does not recompute to what was published")


@main.command()
@click.option(
    "--force",
    is_flag=True,
    help="Rebuild even a warehouse that opens intact (it is kept aside, not deleted).",
)
def rebuild(force: bool) -> None:
    """Recreate the warehouse from $CITYINDEX_HOME/archive, then compute its months again from it.

    The file in place, if any, is renamed aside (warehouse.damaged-<time>.duckdb), never deleted."""
    from cityindex_pipeline.cli.recompute import months_to_compute
    from cityindex_pipeline.cli.runner import materialize_month
    from cityindex_pipeline.publication.heal import heal_publications
    from cityindex_pipeline.publication.records import PublicationError
    from cityindex_pipeline.warehouse.rebuild import RebuildError, rebuild_warehouse

    settings = arguments.settings()
    started = time.monotonic()
    try:
        rebuilt = rebuild_warehouse(settings.warehouse_path, settings.exports_dir, force=force)
    except RebuildError as error:
        raise click.ClickException(str(error)) from None
    output.print_restored(rebuilt, settings.home / "archive", time.monotonic() - started)
    warehouse = Warehouse(settings.warehouse_path)
    try:
        with warehouse.session():
            healed = heal_publications(warehouse, settings.exports_dir)
    except PublicationError as error:
        raise click.ClickException(str(error)) from None
    for line in healed:
        console.print(f"  [yellow]healed:[/] {line}")
    outcomes, failed = [], False
    for planned in months_to_compute(warehouse):
        published = ", ".join(f"v{v}" for v in planned.published_versions) or "never published"
        console.print(
            f"[bold]{planned.month}[/] ({published}): computing again from the archived pulls, methodology "
            f"{planned.methodology_version or 'current'}"
        )
        run = materialize_month(
            settings,
            planned.month,
            printer=console.print,
            override_errors=planned.override_errors,
            recompute=planned.assets,
            methodology_version=planned.methodology_version,
        )
        failed = failed or not run.success
        outcomes.append(output.recomputed_line(planned.month, run))
    console.print(f"[bold]rebuilt[/] in {time.monotonic() - started:.0f} s:")
    for line in outcomes:
        console.print(f"  {line}")
    if failed:
        raise click.ClickException(
            "some months did not compute again; the restored pulls and publications are in place"
        )


@main.command()
@click.option("--from", "first", required=True, callback=arguments.month, help="First month, YYYY-MM.")
@click.option(
    "--to", "last", required=True, callback=arguments.month, help="Last month (inclusive), YYYY-MM."
)
@click.option("--url", default="http://127.0.0.1:3000", show_default=True, help="The Dagster webserver.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the backfill to its end.")
@click.option("--timeout", default=7200.0, show_default=True, help="Seconds to wait for the end.")
def backfill(first: Month, last: Month, url: str, wait: bool, timeout: float) -> None:
    """Launch a backfill of a month range on a running `cityindex dev`, as the UI does, and follow it."""
    from cityindex_pipeline.cli.webserver import BackfillError, DagsterWebserver

    months = Month.range(first, last)
    if not months:
        raise click.BadParameter(f"{last} is before {first}")
    settings = arguments.settings()
    for chosen in (first, last):  # the partitions are a range: its ends say whether all are in it
        arguments.require_partition(settings, chosen)
    arguments.require_history(settings, first)
    server = DagsterWebserver(url)
    started = time.monotonic()
    try:
        backfill_id = server.launch_backfill(months, title=backfill_title(months))
        console.print(f"backfill [bold]{backfill_id}[/]: {len(months)} months, {first} to {last}")
        console.print(f"  follow it in the UI: {url.rstrip('/')}/runs/b/{backfill_id}")
        if not wait:
            return
        progress = server.wait(
            backfill_id,
            timeout,
            on_progress=lambda p: console.print(
                f"  {time.monotonic() - started:6.0f} s  {p.status:<18} {p.materialized}/{p.targeted} "
                f"asset partitions materialised, {p.in_progress} in progress, {p.failed} failed"
            ),
        )
    except BackfillError as error:
        raise click.ClickException(str(error)) from None
    verdict = "[green]succeeded[/]" if progress.succeeded else "[red]failed[/]"
    console.print(f"backfill {backfill_id} {verdict} in {time.monotonic() - started:.0f} s")
    if not progress.succeeded:
        sys.exit(1)


main.add_command(bench)


if __name__ == "__main__":
    main()
