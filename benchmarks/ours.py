"""The pipeline's own functions, called as the assets call them, for the bench's timings: a month's
documents to clean posts and account metrics, and those to the indices. One home, so that raw →
clean, the index timing and "ours" against the peers time the same code."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.config import Methodology


def clean_month(
    documents: dict[str, pl.DataFrame],
    accounts: pl.DataFrame,
    previous_metrics: pl.DataFrame,
    month: Month,
    methodology: Methodology,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each platform's documents to clean posts, and with the profiles, to account metrics."""
    from cityindex_pipeline.cleaning import account_metrics, clean_platform, profiles_of

    posts = pl.concat(
        [
            clean_platform(documents[p], accounts.filter(platform=p), month, p, methodology).posts
            for p in PLATFORMS
        ]
    )
    profiles = pl.concat([profiles_of(documents[p], p) for p in PLATFORMS])
    return posts, account_metrics(posts, profiles, accounts.filter("active"), previous_metrics)


def index_month(
    metrics: pl.DataFrame,
    posts: pl.DataFrame,
    cities: pl.DataFrame,
    weights: pl.DataFrame,
    qualitative: pl.DataFrame,
    previous_platform: pl.DataFrame,
    previous_comprehensive: pl.DataFrame,
    month: Month,
    methodology: Methodology,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Indicators (long), then the platform indices and the comprehensive index: (long, scores)."""
    from cityindex_pipeline import method

    platforms = methodology.coverage.platforms_in(month)
    long = method.platform_indicators(metrics, posts, methodology, platforms)
    platform_scores = pl.concat(
        [
            method.platform_index(long.filter(platform=p), methodology, previous_platform.filter(platform=p))
            for p in platforms
        ],
        how="diagonal_relaxed",
    )
    scores = method.comprehensive_index(
        cities, platform_scores, weights, qualitative, previous_comprehensive, methodology
    )
    return long, scores
