"""A month's publication computed again in memory from the inputs it recorded: the same domain
functions the monthly job's assets call, in the same order, each table passed on as the warehouse
would hand it back (its declared columns and types, in its order), with nothing written anywhere.

This is what `verify` compares with the published rows. It runs no check (a published version's checks
were decided when it was published) and needs neither Dagster nor a scratch warehouse; a change to
what an asset computes that is not made here as well shows as a mismatch in the verify tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from cityindex_pipeline import method
from cityindex_pipeline.cleaning import account_metrics, clean_platform, profiles_of
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.config import Methodology
from cityindex_pipeline.method.uncertainty import simulate_uncertainty
from cityindex_pipeline.parsing import PROFILE_ENDPOINTS
from cityindex_pipeline.parsing.document import with_verdicts
from cityindex_pipeline.publication.records import publication_rows
from cityindex_pipeline.warehouse.tables import polars_schema

RECOMPUTE_RUN_ID = "recompute"
"""The run id the recomputed rows carry (no run wrote them; publication rows leave run ids out)."""


@dataclass(frozen=True)
class RecordedInputs:
    """What a publication was made from, as frames read from the warehouse."""

    documents: Mapping[str, pl.DataFrame]
    """Per platform, the recorded pull's raw.documents rows by account, endpoint and page, their stored
    verdicts cleared: every body is judged again, once, by the current rules (`with_verdicts`); an
    empty frame for a platform without a pull."""
    registry_cities: pl.DataFrame
    registry_accounts: pl.DataFrame
    platform_reference: pl.DataFrame
    qualitative_scores: pl.DataFrame
    previous: Mapping[str, pl.DataFrame]
    """The previous month's rows of `PREVIOUS_MONTH_TABLES` as the publication pinned them."""


def as_stored(table: str, frame: pl.DataFrame, month: Month) -> pl.DataFrame:
    """`frame` as the warehouse hands it back once written to `table` (`INSERT ... BY NAME`): stamped
    with month and run id, its declared columns in the table's order and types, null where the frame
    has no such column (an older methodology writes fewer), the frame's other columns dropped."""
    stamped = frame.with_columns(
        pl.lit(month.first_day).alias("month"), pl.lit(RECOMPUTE_RUN_ID).alias("run_id")
    )
    return stamped.select(
        (pl.col(name) if name in stamped.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in polars_schema(table).items()
    )


def recompute_publication(inputs: RecordedInputs, month: Month, methodology: Methodology) -> pl.DataFrame:
    """The rows `publication_rows` makes of the month, computed from `inputs` as the monthly job's
    assets compute them (clean → metrics → weights, indicators → platform indices → comprehensive
    index → uncertainty)."""
    accounts = inputs.registry_accounts
    documents = {p: with_verdicts(inputs.documents[p]) for p in PLATFORMS}  # judged once, read twice
    cleaned = [
        clean_platform(documents[p], accounts.filter(platform=p), month, p, methodology).posts
        for p in PLATFORMS
    ]
    posts = as_stored("clean.posts", pl.concat(cleaned), month)
    profiles = pl.concat(
        [profiles_of(documents[p].filter(endpoint=PROFILE_ENDPOINTS[p]), p) for p in PLATFORMS]
    )
    metrics = as_stored(
        "clean.account_metrics",
        account_metrics(
            posts=posts,
            profiles=profiles,
            accounts=accounts.filter("active"),
            previous=inputs.previous["clean.account_metrics"],
        ),
        month,
    )
    version = pl.lit(methodology.version).alias("methodology_version")
    comprehensive_platforms = methodology.coverage.comprehensive_platforms_in(month)
    weights = as_stored(
        "idx.platform_weights",
        method.platform_weights(
            inputs.platform_reference,
            methodology,
            comprehensive_platforms,
            activity=method.platform_activity(metrics, methodology, comprehensive_platforms),
        ).with_columns(version),
        month,
    )
    computed_platforms = methodology.coverage.platforms_in(month)
    indicators = as_stored(
        "idx.platform_indicators",
        method.platform_indicators(metrics, posts, methodology, computed_platforms),
        month,
    )
    previous_platform = inputs.previous["idx.platform_index"]
    platform_scores = pl.concat(
        [
            as_stored(
                "idx.platform_index",
                method.platform_index(
                    indicators.filter(platform=p), methodology, previous_platform.filter(platform=p)
                ).with_columns(version),
                month,
            )
            for p in PLATFORMS
        ]
    )
    comprehensive = as_stored(
        "idx.comprehensive_index",
        method.comprehensive_index(
            cities=inputs.registry_cities,
            platform_scores=platform_scores,
            weights=weights,
            qualitative=inputs.qualitative_scores,
            previous=inputs.previous["idx.comprehensive_index"],
            methodology=methodology,
        ).with_columns(version),
        month,
    )
    variants = method.interaction_weight_variants(metrics, posts, methodology, computed_platforms)
    intervals, _ = simulate_uncertainty(
        indicators=indicators,
        weights=weights,
        qualitative=inputs.qualitative_scores,
        cities=inputs.registry_cities["city_id"].to_list(),
        methodology=methodology,
        indicator_variants=variants or None,
    )
    return publication_rows(
        comprehensive,
        platform_scores,
        inputs.registry_cities,
        as_stored("idx.index_uncertainty", intervals.with_columns(version), month),
    )
