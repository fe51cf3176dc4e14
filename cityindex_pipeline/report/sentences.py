"""The report's words: the sentences it makes of its facts (who leads and by how much, who moved, how
firm the ranks are, which dimension carried a lead), ordinals and counts in words."""

from __future__ import annotations

from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.report.charts import DIMENSION_LABELS

PLATFORM_NAMES = {"facebook": "Facebook", "x": "X", "instagram": "Instagram", "youtube": "YouTube"}
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def places(n: int) -> str:
    count = _NUMBER_WORDS[n] if n <= 10 else str(n)
    return f"{count} place{'s' if n != 1 else ''}"


def month_label(month: Month) -> str:
    """'September 2024'."""
    return month.first_day.strftime("%B %Y")


def movement_sentence(name: str, previous_rank: int, rank: int, scope: str) -> str:
    """'Hangzhou rose five places on Instagram, from 7th to 2nd.'"""
    change = previous_rank - rank
    if change == 0:
        return f"{name} held {ordinal(rank)} {scope}."
    verb = "rose" if change > 0 else "fell"
    return f"{name} {verb} {places(abs(change))} {scope}, from {ordinal(previous_rank)} to {ordinal(rank)}."


def movement_sentences(moves: pl.DataFrame, scope: str) -> list[str]:
    """A `movement_sentence` per mover, in the movers' order."""
    return [
        movement_sentence(r["name_en"], r["previous_rank"], r["rank"], scope)
        for r in moves.iter_rows(named=True)
    ]


def why_sentence(
    platform_name: str,
    first: dict[str, Any],
    second: dict[str, Any] | None,
    dims: pl.DataFrame,
    dimension_weights: dict[str, float],
) -> str:
    """Who led, by how much, and which dimension carried the lead (weighted difference with 2nd)."""
    lead = f"{first['name_en']} led {platform_name} with {first['score']:.1f}"
    if second is None:
        return lead + "."
    margin = first["score"] - second["score"]
    text = f"{lead}, {margin:.1f} points ahead of {second['name_en']} ({second['score']:.1f})"
    a = dims.filter(city_id=first["city_id"])
    b = dims.filter(city_id=second["city_id"])
    if a.height and b.height:
        gaps = []
        for dimension, weight in dimension_weights.items():
            column = f"{dimension}_score"
            gaps.append((weight * (a[column][0] - b[column][0]), dimension, a[column][0], b[column][0]))
        gaps.sort(reverse=True)
        gap, dimension, mine, theirs = gaps[0]
        if gap > 0:
            text += (
                f"; most of the difference came from {DIMENSION_LABELS[dimension]}"
                f" ({mine:.1f} against {theirs:.1f}, worth {gap:.1f} points)"
            )
    return text + "."


def headline(top: list[dict[str, Any]], label: str, robust_interval: object) -> str:
    """Who leads the index, by how much over the second, and how many of the top ten ranks are firm."""
    leader, runner_up = top[0], top[1]
    robust = [r for r in top if r["rank_robust"]]
    return (
        f"{leader['name_en']} ({leader['name_zh']}) leads the index in {label} with {leader['score']:.1f}, "
        f"{leader['score'] - runner_up['score']:.1f} points ahead of {runner_up['name_en']} "
        f"({runner_up['score']:.1f}). {_count(len(robust), len(top))} of the top ten ranks are firm "
        f"(a 5–95 % rank interval of at most {robust_interval} places)."
    )


def leader_phrase(platform_name: str, first: dict[str, Any]) -> str:
    """'Hangzhou on Instagram (81.2)'."""
    return f"{first['name_en']} on {platform_name} ({first['score']:.1f})"


def _count(n: int, of: int) -> str:
    if n == of:
        return "All"
    return (_NUMBER_WORDS[n] if n <= 10 else str(n)).capitalize()


def certainty_sentences(top: list[dict[str, Any]]) -> list[str]:
    """The firmest and the least firm ranks of the top ten, in words."""
    sentences = []
    width = {r["city_id"]: r["rank_p95"] - r["rank_p05"] for r in top}
    firm = [r for r in top if width[r["city_id"]] == 0]
    if firm:
        names = ", ".join(f"{r['name_en']}'s {ordinal(r['rank'])} place" for r in firm)
        sentences.append(f"{names} held in at least 90 % of the draws.")
    loosest = max(top, key=lambda r: (width[r["city_id"]], -r["rank"]))
    if width[loosest["city_id"]] > 0:
        sentences.append(
            f"The least certain of the top ten is {loosest['name_en']}: published {ordinal(loosest['rank'])}, "
            f"it ranked between {ordinal(loosest['rank_p05'])} and {ordinal(loosest['rank_p95'])} in 90 % of the draws"
            f" (median {loosest['median_rank']:g})."
        )
    return sentences


def sensitivity_sentence(rows: list[dict[str, Any]]) -> str | None:
    """Which choices move the ranks, most first: Sobol first-order and total indices with their
    intervals and the model runs (0.5.0 on), or the legacy one-at-a-time shares (0.4.0 and before)."""
    if not rows:
        return None
    first = rows[0]
    if first.get("first_order") is None:
        shares = ", ".join(
            f"{r['choice'].replace('_', ' ')} ({round(100 * r['share_of_total_variance'])} % of the rank variance)"
            for r in rows
        )
        return f"What moves the ranks most: {shares}."
    factors = "; ".join(
        f"{r['choice'].replace('_', ' ')} {r['first_order']:.2f} ({r['first_order_low']:.2f}–"
        f"{r['first_order_high']:.2f}) alone, {r['total_order']:.2f} ({r['total_order_low']:.2f}–"
        f"{r['total_order_high']:.2f}) in all"
        for r in rows
    )
    return (
        f"What moves the ranks most, as shares of the rank variance (Sobol first-order and total indices, "
        f"{round(100 * first['confidence'])} % bootstrap intervals, {first['model_runs']:,} model runs): "
        f"{factors}. Interactions between the choices account for "
        f"{max(round(100 * first['interaction_share']), 0)} % of the variance."
    )
