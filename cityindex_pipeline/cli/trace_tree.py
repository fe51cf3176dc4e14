"""How `cityindex trace` prints a traced score: a tree from the score down to the indicators, the
accounts, their posts and the raw documents holding them, then whether every level reconciles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.tree import Tree

from cityindex_pipeline.cli.output import console
from cityindex_pipeline.core.render import terminal_text

if TYPE_CHECKING:
    from cityindex_pipeline.audit.trace_records import CityTrace, TracedAccount, TracedIndicator, TracedPost

POSTS_SHOWN = 3


def print_trace(traced: CityTrace) -> None:
    city = traced.city
    quantitative, qualitative = traced.quantitative, traced.qualitative
    publication = traced.publication
    published = (
        f"published v{publication.version}{'' if publication.latest else ' (not the latest)'}"
        if publication
        else "not published"
    )
    root = Tree(
        f"[bold]{terminal_text(city.name_en)} {terminal_text(city.name_zh)}[/] {traced.month}: "
        f"score [bold]{traced.score:.4f}[/], rank {traced.rank} "
        f"({published}; methodology {terminal_text(traced.methodology_version)})"
    )
    root.add(
        f"= {quantitative.share:.0%} x quantitative {quantitative.score:.4f}"
        f" + {qualitative.share:.0%} x qualitative {qualitative.score:.4f}"
    )
    quant = root.add(f"quantitative {quantitative.score:.4f} = Σ platform weight x platform index")
    for entry in traced.platforms:
        if not entry.present:
            quant.add(f"[dim]{entry.platform}: no account (weight {entry.weight:.4f}) → contributes 0[/]")
            continue
        node = quant.add(
            f"[bold]{entry.platform}[/]: {entry.weight:.4f} x {entry.score:.4f} = {entry.contribution:.4f}"
            f"  (rank {entry.rank} on the platform)"
        )
        for name, dimension in entry.dimensions.items():
            shown = "missing" if dimension.score is None else f"{dimension.score:.2f}"
            dim = node.add(f"{name} {shown} (weight {dimension.weight})")
            for indicator in (i for i in entry.indicators if i.dimension == name):
                line = dim.add(_indicator_line(indicator))
                if indicator.indicator == "interactions" and entry.interaction_parts:
                    line.add(_parts_line(entry.interaction_parts))
        accounts = node.add(f"accounts ({len(entry.accounts)})")
        for account in entry.accounts:
            _add_posts(accounts.add(_account_line(account)), account.posts_traced)
    panel = root.add(
        f"qualitative {qualitative.score:.4f}: mean of the panel ({terminal_text(qualitative.source)})"
    )
    for rater, score in qualitative.by_rater.items():
        panel.add(f"{terminal_text(rater)}: {score:.2f}")
    console.print(root)
    failed = [r for r in traced.reconciliations if not r.ok]
    if failed:
        console.print(f"[red]{len(failed)} level(s) do not reconcile:[/]")
        for r in failed:
            console.print(terminal_text(f"  {r.level}: stored {r.expected!r}, recomputed {r.recomputed!r}"))
    else:
        console.print(f"[green]All {len(traced.reconciliations)} levels reconcile to 1e-9.[/]")


def _number(value: float | None, digits: int = 2) -> str:
    """Absent stays visible as such; small ratios keep four significant digits instead of 0.00."""
    if value is None:
        return "absent"
    if value != 0 and abs(value) < 1:
        return f"{value:.4g}"
    return f"{value:,.{digits}f}"


def _indicator_line(indicator: TracedIndicator) -> str:
    return (
        f"{indicator.indicator} = {_number(indicator.raw_value)}"
        f" → {indicator.transform} {_number(indicator.treated_value, 4)}"
        f" in [{_number(indicator.platform_min, 4)}, {_number(indicator.platform_max, 4)}]"
        f" → {_number(indicator.normalised)} (weight {indicator.indicator_weight})"
    )


def _parts_line(parts: tuple[tuple[str, float, int], ...]) -> str:
    """The interactions indicator as its weighted parts: `1 x likes 4,726 + 2 x comments 745`."""
    return (
        "= "
        + " + ".join(f"{weight:g} x {part} {total:,}" for part, weight, total in parts)
        + " (the city's posts)"
    )


def _add_posts(node: Tree, posts: tuple[TracedPost, ...]) -> None:
    """The posts with most interactions, each with its counts and the raw document holding it."""
    if not posts:
        return
    shown = posts[:POSTS_SHOWN]
    branch = node.add(f"{len(posts)} posts, the {len(shown)} with most interactions:")
    for post in shown:
        counts = ", ".join(
            f"{name} {'withheld' if value is None else f'{value:,}'}"
            for name, value in post.counts_given.items()
        )
        line = branch.add(
            terminal_text(
                f"{post.post_id} {post.published_at_beijing[:16]} Beijing, {post.content_type}: "
                f"interactions {post.interactions:,} ({counts}) {post.permalink or ''}"
            )
        )
        document = post.document
        if document is not None:
            line.add(
                f"[dim]raw {document.endpoint} page {document.page} of pull {terminal_text(document.pull_id)}, "
                f"fetched {document.fetched_at[:19]}, sha256 {document.sha256[:16]}… "
                f"({'recomputed: same' if document.sha256 == document.recomputed_sha256 else 'recomputed: DIFFERENT'})[/]"
            )
    if len(posts) > len(shown):
        branch.add(f"[dim]… and {len(posts) - len(shown)} more (--json lists them all)[/]")


def _account_line(account: TracedAccount) -> str:
    followers = "withheld" if account.followers is None else f"{account.followers:,}"
    return (
        f"@{terminal_text(account.account_handle)}: followers {followers}, posts {account.posts},"
        f" active days {account.active_days}, interactions {account.interactions:,},"
        f" views {_number(account.views, 0)}, exposures {_number(account.exposures, 0)}"
    )
