"""Rules on the raw layer, what the platforms returned: every active account covered, no error body
taken as data, plausible volumes of documents against the previous month."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.parsing import document
from cityindex_pipeline.quality.findings import Finding, finding_from, jsonable


def unusable_reason(body: str) -> str | None:
    """Why a stored response body is not data (not JSON, an API error object...), or None if it is:
    the one definition every reading applies (`parsing/document.py`)."""
    return document.unusable_reason(body)


def with_usability(documents: pl.DataFrame) -> pl.DataFrame:
    """Raw documents with `unusable`: the reason a body is not data, null when it is (the verdict stored
    with the document, or taken now when it was taken by other rules)."""
    judged = document.with_verdicts(documents)
    return documents.with_columns(judged["unusable_reason"].alias("unusable"))


def accounts_covered(
    active_accounts: pl.DataFrame, documents: pl.DataFrame, problems: pl.DataFrame, *, not_started: int = 0
) -> Finding:
    """Every active account of the platform has a usable document this month, or a problem the pull
    recorded for it (raw.source_problems). Accounts not yet started are not active: explained by the registry.

    `documents` come from `with_usability`; `problems` are the pull's rows of raw.source_problems.
    """
    usable = documents.filter(pl.col("unusable").is_null()).select("account_handle").unique()
    missing = active_accounts.select("platform", "city_id", "account_handle").join(
        usable, on="account_handle", how="anti"
    )
    recorded = (
        problems.filter(pl.col("account_handle").is_not_null())
        .group_by("account_handle")
        .agg(pl.col("reason").first().alias("recorded_problem"))
    )
    explained = missing.join(recorded, on="account_handle", how="inner")
    unexplained = missing.join(recorded, on="account_handle", how="anti").with_columns(
        problem=pl.lit("no usable document and no recorded problem")
    )
    return finding_from(
        unexplained.sort("account_handle"),
        f"{active_accounts.height} active accounts, {active_accounts.height - missing.height} with documents, "
        f"{explained.height} explained by a recorded problem, {not_started} not yet started",
        fix="deliver these accounts' documents (a landing folder per account, then a new _COMPLETE marker) "
        "and re-run the month; or, if the account no longer exists, correct its row in accounts.csv",
        extra={
            "active_accounts": active_accounts.height,
            "accounts_not_yet_started": not_started,
            "explained_by_recorded_problem": jsonable(explained.head(20).to_dicts()),
        },
    )


def error_bodies_recorded(documents: pl.DataFrame, problems: pl.DataFrame) -> Finding:
    """A stored body that is an API error (or not JSON) is a recorded problem, never silent data: each
    one has its row in raw.source_problems (same account, same sha256)."""
    errors = documents.filter(pl.col("unusable").is_not_null())
    recorded = problems.select("account_handle", "sha256").unique()
    unrecorded = errors.join(recorded, on=["account_handle", "sha256"], how="anti")
    return finding_from(
        unrecorded.select(
            "account_handle", "endpoint", "page", "request_url", "sha256", pl.col("unusable").alias("reason")
        ).sort("account_handle", "endpoint", "page"),
        f"{errors.height} error bodies among {documents.height} documents, "
        f"{errors.height - unrecorded.height} recorded as problems",
        fix="an error response was stored as if it were data: re-pull these accounts (or re-deliver their "
        "files) so the pull records the error in raw.source_problems, then re-run the month",
    )


DOCUMENT_BAND = (0.25, 8.0)
"""A month's usable documents per account, as a multiple of the previous month's, outside which to warn."""
DOCUMENT_MIN_DIFFERENCE = 3
"""Small accounts swing by a page or two (a dormant month is 2 documents instead of 7): not a warning."""


def document_counts_plausible(
    current: pl.DataFrame,
    previous: pl.DataFrame,
    band: tuple[float, float] = DOCUMENT_BAND,
    min_difference: int = DOCUMENT_MIN_DIFFERENCE,
) -> Finding:
    """Usable documents per account within `band` times the previous month's (a truncated or doubled
    pull shows here). Without a previous month there is nothing to compare: passes, and says so."""

    def counts(documents: pl.DataFrame, name: str) -> pl.DataFrame:
        return (
            documents.filter(pl.col("unusable").is_null())
            .group_by("account_handle")
            .agg(pl.len().cast(pl.Int64).alias(name))
        )

    if previous.height == 0:
        return finding_from(current.clear().select("account_handle"), "no previous month to compare with")
    joined = counts(current, "documents").join(
        counts(previous, "previous_documents"), on="account_handle", how="full", coalesce=True
    )
    joined = joined.with_columns(pl.col("documents", "previous_documents").fill_null(0)).with_columns(
        ratio=pl.when(pl.col("previous_documents") > 0).then(
            pl.col("documents") / pl.col("previous_documents")
        )
    )
    low, high = band
    outside = joined.filter(
        (pl.col("previous_documents") > 0)
        & ((pl.col("ratio") < low) | (pl.col("ratio") > high))
        & ((pl.col("documents") - pl.col("previous_documents")).abs() >= min_difference)
    )
    return finding_from(
        outside.sort("ratio"),
        f"usable documents per account within {low}x-{high}x of the previous month "
        f"({joined.height} accounts compared)",
        fix="look at these accounts' pulls: a truncated pull (missing pages) or a doubled delivery; "
        "re-pull if so, or publish over the warning if the change is real",
        extra={"band": list(band), "min_difference": min_difference},
    )
