"""What the commands print, and the terminal they print it to: the top ten, a run's summary, the
publications of a month and their recomputation, a rebuild's account, the rows per table.

Piped output (a file, a test, CI) gets wide lines rather than rich's default of 80 columns. No emoji
codes: a `:name:` in a post or a name is text. Every value from the data goes through `terminal_text`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.console import Console
from rich.table import Table

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.render import terminal_text
from cityindex_pipeline.core.settings import Settings

if TYPE_CHECKING:
    from cityindex_pipeline.audit.verify import Verification
    from cityindex_pipeline.cli.runner import MonthRun
    from cityindex_pipeline.report.build import BuiltReport
    from cityindex_pipeline.warehouse.rebuild import Rebuilt

console = Console(highlight=False, soft_wrap=True, emoji=False, width=None if sys.stdout.isatty() else 200)


def print_demo_done(settings: Settings, months: int, seconds: float, counts: dict[str, int]) -> None:
    console.print(
        f"\n[bold]Done[/] in {seconds:.0f} s: {months} month{'s' if months > 1 else ''}"
        f" in {settings.warehouse_path}"
        f" ({counts['raw.documents']:,} raw documents, {counts['clean.posts']:,} posts,"
        f" {counts['publish.index']:,} published rows)."
    )


def print_where_next(settings: Settings, last: Month) -> None:
    """The commands to try after the demo, and where its report and warehouse are."""
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


def print_run(month: Month, run: MonthRun, seconds: float) -> None:
    """How a month's run ended: its verdict, what it published, the checks that warned or failed."""
    verdict = "[green]succeeded[/]" if run.success else "[red]failed[/]"
    console.print(f"[bold]{month}[/] {verdict} in {seconds:.1f} s (run {run.run_id})")
    if run.published_version is not None:
        console.print(f"  published: v{run.published_version} (exports/{month}/v{run.published_version})")
    if run.overridden_checks:
        console.print(
            f"  [yellow]published over failed ERROR checks (override):[/] "
            f"{terminal_text(', '.join(run.overridden_checks))}"
        )
    if run.warned_checks:
        console.print(f"  warnings (not blocking): {terminal_text(', '.join(run.warned_checks))}")
    if run.failed_checks:
        console.print(
            f"  [red]failed ERROR checks:[/] {terminal_text(', '.join(run.failed_checks))} — {month} was not published. "
            "Fix what each check above says and re-run the month, or publish over the errors with "
            f'--override-errors "reason".'
        )


def print_top(rows: pl.DataFrame, title: str, *, alphabetical: bool, intervals: bool) -> None:
    """A top ten as a table: ranked, with scores and changes (and the 5-95 % rank interval with
    `intervals`), or, where the methodology publishes it unordered, names only in alphabetical order."""
    if alphabetical:
        table = Table(title=f"{title}, in alphabetical order (unranked)")
        for column in ("City", "城市"):
            table.add_column(column)
        for row in rows.sort("name_en").iter_rows(named=True):
            table.add_row(terminal_text(row["name_en"]), terminal_text(row["name_zh"]))
        console.print(table)
        return
    table = Table(title=title)
    columns = [("Rank", "right"), ("City", "left"), ("城市", "left"), ("Score", "right"), ("Change", "right")]
    if intervals:
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
        if intervals:
            cells.append("—" if row["rank_p05"] is None else f"{row['rank_p05']}–{row['rank_p95']}")
        table.add_row(*cells)
    console.print(table)


def _change(change: int | None) -> str:
    if change is None:
        return "new"
    return "=" if change == 0 else (f"▲{change}" if change > 0 else f"▼{-change}")


def print_report(month: Month, built: BuiltReport) -> None:
    """Whether the month's report was written now or found, and where it is."""
    for warning in built.warnings:
        console.print(f"[yellow]warning:[/] {terminal_text(warning)}")
    if built.created:
        console.print(
            f"{month} v{built.version}: report written in {built.seconds:.1f} s ({len(built.pngs)} charts)"
        )
    else:
        console.print(f"{month} v{built.version}: the report exists already and is kept as it is")
    console.print(f"  {built.html}")


def print_table_counts(counts: dict[str, int]) -> None:
    table = Table(title="warehouse tables")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


def print_publications(month: Month, checked: list[tuple[dict[str, Any], list[str]]]) -> None:
    """Every published version of a month, with its verdict (intact, or what is wrong with it)."""
    table = Table(title=f"publications of {month}")
    for column in ("version", "published at", "reason", "export", "verdict"):
        table.add_column(column)
    for record, problems in checked:
        table.add_row(
            f"v{record['version']}",
            f"{record['published_at']:%Y-%m-%d %H:%M} UTC",
            terminal_text(record.get("reason") or ""),
            f"exports/{month}/v{record['version']}",
            "[green]intact[/]" if not problems else "[red]" + terminal_text("; ".join(problems)) + "[/]",
        )
    console.print(table)


def print_verification(verified: Verification) -> None:
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


def print_restored(rebuilt: Rebuilt, archive: Path, seconds: float) -> None:
    """What a rebuild restored from the archive, what it kept aside and why."""
    restored = rebuilt.restored
    if rebuilt.set_aside is not None:
        why = f" ({rebuilt.why})" if rebuilt.why else " (intact; replaced as asked with --force)"
        console.print(f"the file in place was kept aside as {rebuilt.set_aside}{why}")
    versions, months = sum(len(v) for v in restored.publications.values()), len(restored.publications)
    console.print(
        f"restored {rebuilt.path} from {archive} in {seconds:.1f} s: "
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


def recomputed_line(month: Month, run: MonthRun) -> str:
    """How a month computed again by a rebuild ended."""
    if not run.success:
        return f"{month}: [red]failed[/] ({', '.join(run.failed_checks or run.failed_steps)})"
    if run.published_new:
        return f"{month}: published a new version, v{run.published_version}"
    if run.published_version is not None:
        return f"{month}: unchanged, v{run.published_version} stands"
    return f"{month}: computed (never published)"
