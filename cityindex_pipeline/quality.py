"""Data-quality rules as plain functions: each takes a month's table and says what failed."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Finding:
    """The outcome of one rule: passed or not, how many rows failed and a sample of them."""

    passed: bool
    failed_rows: int
    sample: list[dict[str, object]] = field(default_factory=list)
    detail: str = ""


def _finding(failures: pl.DataFrame, detail: str = "") -> Finding:
    return Finding(
        passed=failures.height == 0,
        failed_rows=failures.height,
        sample=failures.head(5).to_dicts(),
        detail=detail,
    )


def roster_complete(index: pl.DataFrame, cities: pl.DataFrame) -> Finding:
    """One row per city of the month's registry, no more, no fewer, no duplicates."""
    missing = cities.select("city_id").join(index.select("city_id"), on="city_id", how="anti")
    extra = index.select("city_id").join(cities.select("city_id"), on="city_id", how="anti")
    duplicated = index.filter(pl.col("city_id").is_duplicated()).select("city_id")
    failures = pl.concat(
        [
            missing.with_columns(problem=pl.lit("missing")),
            extra.with_columns(problem=pl.lit("not in registry")),
            duplicated.with_columns(problem=pl.lit("duplicated")),
        ]
    )
    return _finding(failures, f"{index.height} rows for {cities.height} cities")


def scores_in_range(index: pl.DataFrame, columns: tuple[str, ...] = ("score",)) -> Finding:
    """Every score a number in [0, 100]."""
    bad = pl.any_horizontal(
        [pl.col(c).is_null() | pl.col(c).is_nan() | (pl.col(c) < 0) | (pl.col(c) > 100) for c in columns]
    )
    return _finding(index.filter(bad).select("city_id", *columns))


def ranks_consistent(index: pl.DataFrame, group: tuple[str, ...] = ()) -> Finding:
    """Ranks are competition ranks of the scores: a higher score never has a worse rank."""
    expected = pl.col("score").rank(method="min", descending=True).cast(pl.Int32)
    expected = expected.over(group) if group else expected
    checked = index.with_columns(expected_rank=expected)
    return _finding(
        checked.filter(pl.col("rank") != pl.col("expected_rank")).select(
            *group, "city_id", "score", "rank", "expected_rank"
        )
    )


def weights_sum_to_one(weights: pl.DataFrame, tolerance: float = 1e-9) -> Finding:
    total = float(weights["weight"].sum()) if weights.height else 0.0
    ok = abs(total - 1.0) <= tolerance and bool((weights["weight"] > 0).all())
    failures = (
        weights.select("platform", "weight") if not ok else weights.clear().select("platform", "weight")
    )
    return _finding(failures, f"sum of weights = {total:.12f}")
