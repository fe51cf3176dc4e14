"""`cityindex`: materialise months, read the index, trace a score, open the Dagster UI."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.render import json_text, terminal_text
from cityindex_pipeline.core.settings import Settings, settings_from_env
from cityindex_pipeline.method.config import UnknownMethodologyVersion, load_methodology
from cityindex_pipeline.warehouse.store import Warehouse, WarehouseDamagedError

DEMO_MONTHS = ("2024-07", "2024-08", "2024-09")

# Piped output (a file, a test, CI) gets wide lines rather than rich's default of 80 columns. No emoji
# codes: a `:name:` in a post or a name is text. Every value from the data goes through `terminal_text`.
console = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 200)


def _print_text(line: str) -> None:
    """A line made of data (the run's progress: step names, failing rows, error messages), printed as
    the text it is."""
    console.print(terminal_text(line))


def _settings() -> Settings:
    try:
        return settings_from_env()
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Month | None:
    if value is None:
        return None
    try:
        return Month.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _version(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    text = value.lower().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise click.BadParameter(f"a publication version looks like v1 or 2, not {value!r}")
    return int(text)


class _Commands(click.Group):
    """Every command: a damaged or lost warehouse is a message naming the file and `cityindex rebuild`,
    not a DuckDB traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WarehouseDamagedError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
    settings = _settings()
    chosen = [Month.parse(m) for m in (months or DEMO_MONTHS)]
    started = time.monotonic()
    for month in sorted(chosen):
        _run_month(settings, month)
    last = max(chosen)
    console.print()
    _print_top(Warehouse(settings.warehouse_path), last, None)
    counts = Warehouse(settings.warehouse_path).table_counts()
    console.print(
        f"\n[bold]Done[/] in {time.monotonic() - started:.0f} s: {len(chosen)} month{'s' if len(chosen) > 1 else ''}"
        f" in {settings.warehouse_path}"
        f" ({counts['raw.documents']:,} raw documents, {counts['clean.posts']:,} posts,"
        f" {counts['publish.index']:,} published rows)."
    )
    next_steps = [
        ("make dev", "the Dagster UI: asset graph, partitions, checks (http://127.0.0.1:3000)"),
        (
            f".venv/bin/cityindex top --month {last}",
            "the top ten, overall or with --platform facebook|x|instagram|youtube",
        ),
        (
            f".venv/bin/cityindex trace --city Nanjing --month {last}",
            "how a score was made, down to each post and raw document",
        ),
        (
            f".venv/bin/cityindex verify --month {last}",
            "recompute the publication from what it recorded, and compare",
        ),
        (".venv/bin/cityindex tables", "rows per table (DuckDB schemas raw, clean, idx, publish)"),
    ]
    width = max(len(command) for command, _ in next_steps)
    console.print("\nWhere next:")
    for command, what in next_steps:
        console.print(f"  {command:<{width}}  {what}")
    reports = sorted((settings.reports_dir / str(last)).glob("v*/report.html"))
    if reports:
        console.print(f"  report:    {reports[-1]}")
    console.print(f"  warehouse: {settings.warehouse_path}")


@main.command()
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
@click.option("--to", "until", callback=_month, help="Last month of a range (inclusive), YYYY-MM.")
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
    settings = _settings()
    months = [month.shift(i) for i in range((until or month).months_since(month) + 1)]
    if not months:
        raise click.BadParameter("--to is before --month")
    failures = [
        m for m in months if not _run_month(settings, m, reason=reason, override_errors=override_errors)
    ]
    if failures:
        raise click.ClickException(f"{len(failures)} month(s) failed: {', '.join(map(str, failures))}")


def _run_month(settings: Settings, month: Month, *, reason: str = "", override_errors: str = "") -> bool:
    closes = month.end_utc.timestamp()
    if closes > time.time():
        raise click.UsageError(
            f"{month} has not closed yet (Beijing time); only closed months can be materialised"
        )
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
    verdict = "[green]succeeded[/]" if run.success else "[red]failed[/]"
    console.print(f"[bold]{month}[/] {verdict} in {time.monotonic() - started:.1f} s (run {run.run_id})")
    if run.published_version is not None:
        console.print(f"  published: v{run.published_version} (exports/{month}/v{run.published_version})")
    if run.warned_checks:
        console.print(f"  warnings (not blocking): {terminal_text(', '.join(run.warned_checks))}")
    if run.failed_checks:
        console.print(
            f"  [red]failed ERROR checks:[/] {terminal_text(', '.join(run.failed_checks))} — {month} was not published. "
            "Fix what each check above says and re-run the month, or publish over the errors with "
            f'--override-errors "reason".'
        )
    return run.success


@main.command()
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
@click.option(
    "--platform", type=click.Choice(PLATFORMS), help="A platform's top ten instead of the overall one."
)
def top(month: Month, platform: str | None) -> None:
    """Print the published top ten of a month, overall or for one platform."""
    _print_top(_warehouse(), month, platform)


def _warehouse() -> Warehouse:
    settings = _settings()
    warehouse = Warehouse(settings.warehouse_path)
    if not settings.warehouse_path.exists() and not (warehouse.archive and warehouse.archive.holds_data()):
        raise click.ClickException(f"no warehouse at {settings.warehouse_path}; run `cityindex demo` first")
    with warehouse.connect():
        pass  # damaged, or lost while the archive holds data: the message names `cityindex rebuild`
    return warehouse


def _print_top(warehouse: Warehouse, month: Month, platform: str | None) -> None:
    if platform is None:
        publications = warehouse.publications(month)
        if publications.height == 0:
            raise click.ClickException(f"{month} has not been published")
        version = int(publications["version"].max())
        rows = warehouse.query(
            "SELECT rank, name_en, name_zh, score, rank_change, rank_p05, rank_p95 FROM publish.index "
            "WHERE month = $month AND version = $version ORDER BY rank, city_id LIMIT 10",
            {"month": month.first_day, "version": version},
        )
        title = (
            f"Communication Impact Index on Overseas Social Media — top ten, {month} (published v{version})"
        )
    else:
        rows = warehouse.query(
            "SELECT i.rank, c.name_en, c.name_zh, i.score, i.rank_change FROM idx.platform_index i "
            "JOIN clean.registry_cities c USING (month, city_id) "
            "WHERE i.month = $month AND i.platform = $platform AND i.in_top_ten ORDER BY i.rank, i.city_id",
            {"month": month.first_day, "platform": platform},
        )
        title = f"{platform} index — top ten, {month}"
    version = publications["methodology_version"][-1] if platform is None else None
    if _top_ten_order(warehouse, month, version) == "alphabetical":  # published unordered: names only
        table = Table(title=f"{title}, in alphabetical order (unranked)")
        for column in ("City", "城市"):
            table.add_column(column)
        for row in rows.sort("name_en").iter_rows(named=True):
            table.add_row(terminal_text(row["name_en"]), terminal_text(row["name_zh"]))
        console.print(table)
        return
    table = Table(title=title)
    columns = [("Rank", "right"), ("City", "left"), ("城市", "left"), ("Score", "right"), ("Change", "right")]
    if platform is None:
        columns.append(("Rank 5–95 %", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for row in rows.iter_rows(named=True):
        cells = [
            str(row["rank"]),
            terminal_text(row["name_en"]),
            terminal_text(row["name_zh"]),
            f"{row['score']:.2f}",
            _change(row["rank_change"]),
        ]
        if platform is None:
            cells.append("—" if row["rank_p05"] is None else f"{row['rank_p05']}–{row['rank_p95']}")
        table.add_row(*cells)
    console.print(table)


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


def _change(change: int | None) -> str:
    if change is None:
        return "new"
    return "=" if change == 0 else (f"▲{change}" if change > 0 else f"▼{-change}")


@main.command()
@click.option("--city", required=True, help="City id, English name or Chinese name (Xi'an, xian, 西安).")
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
@click.option("--platform", type=click.Choice(PLATFORMS), help="Posts and documents of this platform only.")
@click.option(
    "--publication", "version", callback=_version, help="The publication traced, vN (default: the latest)."
)
@click.option("--json", "as_json", is_flag=True, help="Everything, as JSON.")
def trace(city: str, month: Month, platform: str | None, version: int | None, as_json: bool) -> None:
    """Decompose a published score down to the posts and raw documents it came from."""
    from cityindex_pipeline.audit.trace import TraceError, trace_city

    try:
        traced = trace_city(_warehouse(), city, month, platform=platform, version=version)
    except TraceError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json_text(traced))
    else:
        _print_trace(traced)
    if not traced["reconciled"]:
        sys.exit(1)


POSTS_SHOWN = 3


def _print_trace(traced: dict[str, Any]) -> None:
    city = traced["city"]
    quantitative, qualitative = traced["quantitative"], traced["qualitative"]
    publication = traced["publication"]
    published = (
        f"published v{publication['version']}{'' if publication['latest'] else ' (not the latest)'}"
        if publication
        else "not published"
    )
    root = Tree(
        f"[bold]{terminal_text(city['name_en'])} {terminal_text(city['name_zh'])}[/] {traced['month']}: "
        f"score [bold]{traced['score']:.4f}[/], rank {traced['rank']} "
        f"({published}; methodology {terminal_text(traced['methodology_version'])})"
    )
    root.add(
        f"= {quantitative['share']:.0%} x quantitative {quantitative['score']:.4f}"
        f" + {qualitative['share']:.0%} x qualitative {qualitative['score']:.4f}"
    )
    quant = root.add(f"quantitative {quantitative['score']:.4f} = Σ platform weight x platform index")
    for entry in traced["platforms"]:
        if not entry["present"]:
            quant.add(
                f"[dim]{entry['platform']}: no account (weight {entry['weight']:.4f}) → contributes 0[/]"
            )
            continue
        node = quant.add(
            f"[bold]{entry['platform']}[/]: {entry['weight']:.4f} x {entry['score']:.4f} = {entry['contribution']:.4f}"
            f"  (rank {entry['rank']} on the platform)"
        )
        for name, dimension in entry["dimensions"].items():
            dim = node.add(f"{name} {dimension['score']:.2f} (weight {dimension['weight']})")
            for indicator in (i for i in entry["indicators"] if i["dimension"] == name):
                dim.add(_indicator_line(indicator))
        accounts = node.add(f"accounts ({len(entry['accounts'])})")
        for account in entry["accounts"]:
            _add_posts(accounts.add(_account_line(account)), account["posts_traced"])
    panel = root.add(
        f"qualitative {qualitative['score']:.4f}: mean of the panel ({terminal_text(qualitative['source'])})"
    )
    for rater, score in qualitative["by_rater"].items():
        panel.add(f"{terminal_text(rater)}: {score:.2f}")
    console.print(root)
    failed = [r for r in traced["reconciliations"] if not r["ok"]]
    if failed:
        console.print(f"[red]{len(failed)} level(s) do not reconcile:[/]")
        for r in failed:
            console.print(
                terminal_text(f"  {r['level']}: stored {r['expected']!r}, recomputed {r['recomputed']!r}")
            )
    else:
        console.print(f"[green]All {len(traced['reconciliations'])} levels reconcile to 1e-9.[/]")


def _number(value: float | None, digits: int = 2) -> str:
    """Absent stays visible as such; small ratios keep four significant digits instead of 0.00."""
    if value is None:
        return "absent"
    if value != 0 and abs(value) < 1:
        return f"{value:.4g}"
    return f"{value:,.{digits}f}"


def _indicator_line(indicator: dict[str, Any]) -> str:
    return (
        f"{indicator['indicator']} = {_number(indicator['raw_value'])}"
        f" → {indicator['transform']} {_number(indicator['treated_value'], 4)}"
        f" in [{_number(indicator['platform_min'], 4)}, {_number(indicator['platform_max'], 4)}]"
        f" → {_number(indicator['normalised'])} (weight {indicator['indicator_weight']})"
    )


def _add_posts(node: Tree, posts: list[dict[str, Any]]) -> None:
    """The posts with most interactions, each with its counts and the raw document holding it."""
    if not posts:
        return
    shown = posts[:POSTS_SHOWN]
    branch = node.add(f"{len(posts)} posts, the {len(shown)} with most interactions:")
    for post in shown:
        counts = ", ".join(
            f"{name} {'withheld' if value is None else f'{value:,}'}"
            for name, value in post["counts_given"].items()
        )
        line = branch.add(
            terminal_text(
                f"{post['post_id']} {post['published_at_beijing'][:16]} Beijing, {post['content_type']}: "
                f"interactions {post['interactions']:,} ({counts}) {post['permalink'] or ''}"
            )
        )
        document = post.get("document")
        if document is not None:
            line.add(
                f"[dim]raw {document['endpoint']} page {document['page']} of pull {terminal_text(document['pull_id'])}, "
                f"fetched {document['fetched_at'][:19]}, sha256 {document['sha256'][:16]}… "
                f"({'recomputed: same' if document['sha256'] == document['recomputed_sha256'] else 'recomputed: DIFFERENT'})[/]"
            )
    if len(posts) > len(shown):
        branch.add(f"[dim]… and {len(posts) - len(shown)} more (--json lists them all)[/]")


def _account_line(account: dict[str, Any]) -> str:
    followers = "withheld" if account["followers"] is None else f"{account['followers']:,}"
    return (
        f"@{terminal_text(account['account_handle'])}: followers {followers}, posts {account['posts']},"
        f" active days {account['active_days']}, interactions {account['interactions']:,},"
        f" views {_number(account['views'], 0)}, exposures {_number(account['exposures'], 0)}"
    )


@main.command()
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
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
    settings = _settings()
    try:
        built = build_report(
            _warehouse(), settings.reports_dir, month, version, checks=_check_outcomes(settings, month)
        )
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    for warning in built.warnings:
        console.print(f"[yellow]warning:[/] {terminal_text(warning)}")
    if built.created:
        console.print(
            f"{month} v{built.version}: report written in {built.seconds:.1f} s ({len(built.pngs)} charts)"
        )
    else:
        console.print(f"{month} v{built.version}: the report exists already and is kept as it is")
    console.print(f"  {built.html}")


def _check_outcomes(settings: Settings, month: Month) -> list:
    """The month's check results recorded in the local Dagster instance (none if it has none)."""
    if not (settings.dagster_home / "dagster.yaml").exists():
        return []
    import dagster as dg

    from cityindex_pipeline.cli.instance import ensure_dagster_home
    from cityindex_pipeline.defs.check_results import check_outcomes

    ensure_dagster_home(settings)
    with dg.DagsterInstance.get() as instance:
        return check_outcomes(instance, month)


@main.command()
@click.option("--port", default=3000, show_default=True)
def dev(port: int) -> None:
    """Start the Dagster UI and daemon (`dagster dev`) on 127.0.0.1 for this CITYINDEX_HOME."""
    from cityindex_pipeline.cli.instance import ensure_dagster_home

    ensure_dagster_home(_settings())
    workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
    dagster = Path(sys.executable).with_name("dagster")
    args = [str(dagster), "dev", "-h", "127.0.0.1", "-p", str(port)]
    if workspace.exists():
        args += ["-w", str(workspace)]
    else:
        args += ["-m", "cityindex_pipeline.definitions"]
    os.execv(args[0], args)


@main.command()
def tables() -> None:
    """Rows per table of the warehouse."""
    counts = _warehouse().table_counts()
    table = Table(title="warehouse tables")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


@main.command()
@click.option("--month", required=True, callback=_month, help="The month, YYYY-MM.")
@click.option(
    "--publication", "version", callback=_version, help="The version recomputed, vN (default: the latest)."
)
@click.option("--json", "as_json", is_flag=True, help="The recomputation's result as JSON.")
def verify(month: Month, version: int | None, as_json: bool) -> None:
    """Check every published version of a month against its export and manifest, then recompute one
    from the inputs it recorded, in a scratch warehouse, and compare number by number."""
    from cityindex_pipeline.cli.recompute import verify_month
    from cityindex_pipeline.publication.records import PublicationError

    try:
        result = verify_month(_settings(), _warehouse(), month, version)
    except PublicationError as error:
        raise click.ClickException(str(error)) from None
    for line in result.healed:
        if as_json:
            click.echo(f"healed: {line}", err=True)
        else:
            console.print(f"[yellow]healed:[/] {line}")
    if not result.checked:
        raise click.ClickException(f"{month} has not been published")
    table = Table(title=f"publications of {month}")
    for column in ("version", "published at", "reason", "export", "verdict"):
        table.add_column(column)
    broken = 0
    for record, problems in result.checked:
        broken += bool(problems)
        table.add_row(
            f"v{record['version']}",
            f"{record['published_at']:%Y-%m-%d %H:%M} UTC",
            terminal_text(record.get("reason") or ""),
            f"exports/{month}/v{record['version']}",
            "[green]intact[/]" if not problems else "[red]" + terminal_text("; ".join(problems)) + "[/]",
        )
    if not as_json:
        console.print(table)
    if result.refused:
        raise click.ClickException(result.refused)
    verified = result.verification
    if as_json:
        click.echo(json_text(verified.as_dict()))
    else:
        _print_verification(verified)
    if broken:
        raise click.ClickException(f"{broken} version(s) of {month} do not match what was published")
    if not verified.matches:
        raise click.ClickException(f"v{verified.version} of {month} does not recompute to what was published")


def _print_verification(verified: Any) -> None:
    console.print(
        f"recomputed v{verified.version} of {verified.month} from its {verified.documents:,} raw documents "
        f"with methodology {verified.methodology_version}:"
    )
    for note in verified.notes:
        console.print(f"  note: {terminal_text(note)}")
    for document in verified.tampered_documents:
        console.print(
            "  [red]raw document altered[/]: "
            + terminal_text(
                f"{document['platform']} @{document['account_handle']} {document['endpoint']} page "
                f"{document['page']}: recorded sha256 {document['sha256'][:16]}…, "
                f"its text hashes to {document['sha256_of_text'][:16]}…"
            )
        )
    for difference in verified.differences:
        console.print(
            "  [red]differs[/]: "
            + terminal_text(
                f"{difference['city_id']} {difference['column']}: "
                f"published {difference['published']!r}, recomputed {difference['recomputed']!r}"
            )
        )
    if verified.matches:
        console.print(
            f"  [green]match[/]: content sha256 {verified.published_sha256[:16]}… recomputed exactly"
        )


@main.command()
@click.option(
    "--force",
    is_flag=True,
    help="Rebuild even a warehouse that opens intact (it is kept aside, not deleted).",
)
def rebuild(force: bool) -> None:
    """Recreate the warehouse from $CITYINDEX_HOME/archive, then compute its months again from it.

    The file in place, if any, is renamed aside (warehouse.damaged-<time>.duckdb), never deleted."""
    from cityindex_pipeline.audit.verify import months_to_compute
    from cityindex_pipeline.cli.runner import materialize_month
    from cityindex_pipeline.publication.heal import heal_publications
    from cityindex_pipeline.publication.records import PublicationError
    from cityindex_pipeline.warehouse.rebuild import RebuildError, rebuild_warehouse

    settings = _settings()
    started = time.monotonic()
    try:
        rebuilt = rebuild_warehouse(settings.warehouse_path, settings.exports_dir, force=force)
    except RebuildError as error:
        raise click.ClickException(str(error)) from None
    restored = rebuilt.restored
    if rebuilt.set_aside is not None:
        why = f" ({rebuilt.why})" if rebuilt.why else " (intact; replaced as asked with --force)"
        console.print(f"the file in place was kept aside as {rebuilt.set_aside}{why}")
    versions, months = sum(len(v) for v in restored.publications.values()), len(restored.publications)
    console.print(
        f"restored {rebuilt.path} from {settings.home / 'archive'} in {time.monotonic() - started:.1f} s: "
        f"{restored.pulls} pulls ({restored.complete_pulls} complete), {restored.documents:,} raw documents, "
        f"{restored.problems:,} source problems, {versions} publication{'s' if versions != 1 else ''} of "
        f"{months} month{'s' if months != 1 else ''}"
    )
    for note in restored.notes:
        console.print(f"  [yellow]note:[/] {note}")
    for kept in rebuilt.unconfirmed:
        console.print(
            f"  [yellow]kept aside:[/] {kept}: a publication staged when the old file was lost; whether it "
            "was committed cannot be known, so it is not restored (the month is computed again below)"
        )
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
        if not run.success:
            failed = True
            outcomes.append(
                f"{planned.month}: [red]failed[/] ({', '.join(run.failed_checks or run.failed_steps)})"
            )
        elif run.published_new:
            outcomes.append(f"{planned.month}: published a new version, v{run.published_version}")
        elif run.published_version is not None:
            outcomes.append(f"{planned.month}: unchanged, v{run.published_version} stands")
        else:
            outcomes.append(f"{planned.month}: computed (never published)")
    console.print(f"[bold]rebuilt[/] in {time.monotonic() - started:.0f} s:")
    for line in outcomes:
        console.print(f"  {line}")
    if failed:
        raise click.ClickException(
            "some months did not compute again; the restored pulls and publications are in place"
        )


@main.command()
@click.option("--from", "first", required=True, callback=_month, help="First month, YYYY-MM.")
@click.option("--to", "last", required=True, callback=_month, help="Last month (inclusive), YYYY-MM.")
@click.option("--url", default="http://127.0.0.1:3000", show_default=True, help="The Dagster webserver.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Follow the backfill to its end.")
@click.option("--timeout", default=7200.0, show_default=True, help="Seconds to wait for the end.")
def backfill(first: Month, last: Month, url: str, wait: bool, timeout: float) -> None:
    """Launch a backfill of a month range on a running `cityindex dev`, as the UI does, and follow it."""
    from cityindex_pipeline.cli.webserver import BackfillError, DagsterWebserver, months_between

    try:
        months = months_between(first, last)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    server = DagsterWebserver(url)
    started = time.monotonic()
    try:
        backfill_id = server.launch_backfill(months)
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


@main.command()
@click.option("--scale", default="1,10,100", show_default=True, help="Scale factors, comma separated.")
@click.option("--repeat", default=3, show_default=True, help="Runs per figure; medians are reported.")
@click.option(
    "--backfill-months",
    default=3,
    show_default=True,
    help="Months of the backfill at scale 1, through a webserver and daemon of their own, against one month alone.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write every figure here.")
def bench(scale: str, repeat: int, backfill_months: int, json_path: str | None) -> None:
    """Time and size the pipeline at several scales, in scratch homes, against a pandas peer."""
    from benchmarks.bench import print_report, run_bench

    try:
        scales = [int(part) for part in scale.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected integers like 1,10,100; got {scale!r}") from None
    if not scales or min(scales) < 1 or repeat < 1 or backfill_months < 1:
        raise click.BadParameter("scales, --repeat and --backfill-months must be at least 1")
    report = run_bench(scales, repeat, backfill_months)
    print_report(report, console)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        console.print(f"figures written to {json_path}")


if __name__ == "__main__":
    main()
