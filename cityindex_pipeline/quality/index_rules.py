"""Rules on the index layer: the roster, scores and ranks, the platform weights and the expert panel."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.quality.findings import SAMPLE_ROWS, Finding, finding_from, jsonable


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
    return finding_from(
        failures,
        f"{index.height} rows for {cities.height} cities",
        fix="re-materialise the month from account_registry: the index must cover the registry's roster",
    )


def scores_in_range(index: pl.DataFrame, columns: tuple[str, ...] = ("score",)) -> Finding:
    """Every score a number in [0, 100]."""
    bad = pl.any_horizontal(
        [pl.col(c).is_null() | pl.col(c).is_nan() | (pl.col(c) < 0) | (pl.col(c) > 100) for c in columns]
    )
    return finding_from(
        index.filter(bad).select("city_id", *columns),
        f"{', '.join(columns)} in [0, 100]",
        fix="a score outside [0, 100] is a defect of the method's code or inputs: trace the city",
    )


def ranks_consistent(index: pl.DataFrame, group: tuple[str, ...] = ()) -> Finding:
    """Ranks are competition ranks of the scores (1, 2, 2, 4): they start at 1, skip only past ties,
    and a higher score never has a worse rank."""
    expected = pl.col("score").rank(method="min", descending=True).cast(pl.Int32)
    expected = expected.over(group) if group else expected
    checked = index.with_columns(expected_rank=expected)
    return finding_from(
        checked.filter(pl.col("rank").is_null() | (pl.col("rank") != pl.col("expected_rank"))).select(
            *group, "city_id", "score", "rank", "expected_rank"
        ),
        "rank = competition rank of the score" + (f" within {', '.join(group)}" if group else ""),
        fix="ranks must be recomputed from the scores: re-materialise the index of the month",
    )


def weights_sum_to_one(weights: pl.DataFrame, tolerance: float = 1e-9) -> Finding:
    total = float(weights["weight"].sum()) if weights.height else 0.0
    ok = abs(total - 1.0) <= tolerance and bool((weights["weight"] > 0).all())
    failures = (
        weights.select("platform", "weight") if not ok else weights.clear().select("platform", "weight")
    )
    return finding_from(
        failures,
        f"sum of weights = {total:.12f}",
        fix="check cityindex_pipeline/data/platform_reference.csv and the weight criteria of the methodology",
    )


def qualitative_complete(
    qualitative: pl.DataFrame, index: pl.DataFrame, cities: pl.DataFrame, criteria: tuple[str, ...]
) -> Finding:
    """The panel's policy (METHODOLOGY §7) applied: every city of the roster scored on every criterion,
    scores in [0, 100], and the index's qualitative score is the mean of the city's panel scores."""
    scored = qualitative.group_by("city_id").agg(
        pl.col("criterion").unique().alias("criteria"), pl.col("score").mean().alias("panel_mean")
    )
    checked = cities.select("city_id").join(scored, on="city_id", how="left")
    missing = checked.filter(
        pl.col("criteria").is_null() | (pl.col("criteria").list.set_intersection(list(criteria)).list.len()
                                        < len(criteria))
    ).select("city_id", pl.lit("not scored on every criterion").alias("problem"))  # fmt: skip
    out_of_range = (
        qualitative.filter(pl.col("score").is_null() | (pl.col("score") < 0) | (pl.col("score") > 100))
        .select("city_id", pl.lit("panel score outside [0, 100]").alias("problem"))
        .unique()
    )
    mismatch = (
        index.select("city_id", "qualitative_score")
        .join(scored.select("city_id", "panel_mean"), on="city_id", how="inner")
        .filter((pl.col("qualitative_score") - pl.col("panel_mean")).abs() > 1e-9)
        .select("city_id", pl.lit("qualitative score is not the mean of the panel").alias("problem"))
    )
    sources = sorted(set(qualitative["source"].unique().to_list())) if qualitative.height else []
    return finding_from(
        pl.concat([missing, out_of_range, mismatch]).sort("city_id"),
        f"{qualitative.height} panel scores for {checked.height} cities; source {', '.join(sources) or 'none'}",
        fix="the panel file ($CITYINDEX_HOME/landing/qualitative/<YYYY-MM>.csv) must score every city on "
        "every criterion; correct it and re-run the month",
        extra={"panel_sources": sources},
    )


def platform_ranks_consistent(platform_index: pl.DataFrame) -> Finding:
    """Each platform's ranks are the competition ranks of its scores, and the top ten are ranks 1-10."""
    ranks = ranks_consistent(platform_index, group=("platform",))
    top = platform_index.filter(pl.col("in_top_ten") != (pl.col("rank") <= 10)).select(
        "platform", "city_id", "score", "rank", "in_top_ten"
    )
    if top.height == 0:
        return ranks
    return Finding(
        passed=False,
        failed_rows=ranks.failed_rows + top.height,
        sample=ranks.sample + jsonable(top.head(SAMPLE_ROWS).to_dicts()),
        detail=ranks.detail + f"; {top.height} rows with in_top_ten not rank <= 10",
        fix="re-materialise the platform indices of the month",
    )


def indicators_well_formed(indicators: pl.DataFrame) -> Finding:
    """One row per city, platform and indicator; a positive weight; a treated value inside the
    platform's range and a normalised value in [0, 100] wherever the value is known."""
    tolerance = 1e-9
    keys = ("platform", "city_id", "indicator")
    checks = {
        "row twice": pl.struct(*keys).is_duplicated(),
        "weight not positive": pl.col("indicator_weight").is_null() | (pl.col("indicator_weight") <= 0),
        "normalised outside [0, 100]": pl.col("normalised").is_not_null()
        & (pl.col("normalised").is_nan() | (pl.col("normalised") < -tolerance) | (pl.col("normalised") > 100 + tolerance)),
        "treated value outside the platform's range": pl.col("treated_value").is_not_null()
        & ((pl.col("treated_value") < pl.col("platform_min") - tolerance)
           | (pl.col("treated_value") > pl.col("platform_max") + tolerance)),
    }  # fmt: skip
    failures = pl.concat(
        [
            indicators.filter(condition)
            .select(*keys, "normalised", "treated_value")
            .with_columns(problem=pl.lit(name))
            for name, condition in checks.items()
        ]
    )
    return finding_from(
        failures,
        f"{indicators.height} indicator values, {indicators['normalised'].null_count()} unknown",
        fix="an indicator outside its range is a defect of the treatment or normalisation: trace the city "
        "and re-materialise platform_indicators",
    )


def panel_well_formed(panel: pl.DataFrame, sources: tuple[str, ...] = ("panel", "simulated")) -> Finding:
    """One score per city, rater and criterion, in [0, 100], with its source said (a real panel's
    scores or simulated ones, never unlabelled)."""
    keys = ("city_id", "rater", "criterion")
    checks = {
        "scored twice": pl.struct(*keys).is_duplicated(),
        "score outside [0, 100]": pl.col("score").is_null() | pl.col("score").is_nan()
        | (pl.col("score") < 0) | (pl.col("score") > 100),
        "source not panel or simulated": ~pl.col("source").is_in(list(sources)),
    }  # fmt: skip
    failures = pl.concat(
        [
            panel.filter(condition).select(*keys, "score", "source").with_columns(problem=pl.lit(name))
            for name, condition in checks.items()
        ]
    )
    labels = ", ".join(f"{n} {s}" for s, n in sorted(panel.group_by("source").len().iter_rows()))
    return finding_from(
        failures,
        f"{panel.height} scores ({labels or 'none'})",
        fix="correct the panel's file for the month ($CITYINDEX_HOME/landing/qualitative/<YYYY-MM>.csv), "
        "then re-run the month from qualitative_scores",
    )


def rank_intervals_well_formed(uncertainty: pl.DataFrame, cities: int) -> Finding:
    """One row per city; every rank of the analysis in [1, cities], the 5 % rank at most the median
    and the median at most the 95 % rank; draws made."""
    ranks = ("nominal_rank", "median_rank", "rank_p05", "rank_p95")
    checks = {
        "city twice": pl.col("city_id").is_duplicated(),
        "rank outside [1, cities]": pl.any_horizontal(
            [pl.col(r).is_null() | (pl.col(r) < 1) | (pl.col(r) > cities) for r in ranks]
        ),
        "interval not ordered": (pl.col("rank_p05") > pl.col("median_rank")) | (pl.col("median_rank") > pl.col("rank_p95")),
        "no draws": pl.col("draws").is_null() | (pl.col("draws") < 1),
    }  # fmt: skip
    failures = pl.concat(
        [
            uncertainty.filter(condition)
            .select("city_id", *ranks, "draws")
            .with_columns(problem=pl.lit(name))
            for name, condition in checks.items()
        ]
    )
    if uncertainty.height != cities:
        failures = pl.concat(
            [failures, pl.DataFrame({"problem": [f"{uncertainty.height} rows for {cities} cities"]})],
            how="diagonal_relaxed",
        )
    return finding_from(
        failures,
        f"{uncertainty.height} cities, rank intervals of {uncertainty['draws'].max() or 0} draws",
        fix="re-materialise index_uncertainty for the month (after comprehensive_index)",
    )
