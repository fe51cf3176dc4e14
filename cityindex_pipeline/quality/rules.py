"""Data-quality rules as plain functions: each takes a month's table and says what failed.

The rules here need no Great Expectations (cross-table and cross-month rules, the registry's
explanations); the column-level suites are in `expectations.py`. Which rule gates which asset, and with
which severity, is in `gates.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.parsing import document
from cityindex_pipeline.parsing.common import DocumentError, load_json
from cityindex_pipeline.quality import plausibility


@dataclass(frozen=True)
class Finding:
    """The outcome of one rule: passed or not, how many rows failed and a sample of them."""

    passed: bool
    failed_rows: int
    sample: list[dict[str, object]] = field(default_factory=list)
    detail: str = ""
    fix: str = ""
    """What the engineer should do when the rule fails (empty when it passed)."""
    extra: dict[str, object] = field(default_factory=dict)
    """Further figures worth showing with the result (explained exceptions, thresholds)."""


SAMPLE_ROWS = 5


def _finding(
    failures: pl.DataFrame, detail: str = "", fix: str = "", extra: dict[str, object] | None = None
) -> Finding:
    return Finding(
        passed=failures.height == 0,
        failed_rows=failures.height,
        sample=jsonable(failures.head(SAMPLE_ROWS).to_dicts()),
        detail=detail,
        fix=fix if failures.height else "",
        extra=extra or {},
    )


def jsonable(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows as JSON-safe values (dates and times as ISO text), for check metadata."""
    return json.loads(json.dumps(rows, default=str))


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
    return _finding(
        failures,
        f"{index.height} rows for {cities.height} cities",
        fix="re-materialise the month from account_registry: the index must cover the registry's roster",
    )


def scores_in_range(index: pl.DataFrame, columns: tuple[str, ...] = ("score",)) -> Finding:
    """Every score a number in [0, 100]."""
    bad = pl.any_horizontal(
        [pl.col(c).is_null() | pl.col(c).is_nan() | (pl.col(c) < 0) | (pl.col(c) > 100) for c in columns]
    )
    return _finding(
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
    return _finding(
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
    return _finding(
        failures,
        f"sum of weights = {total:.12f}",
        fix="check cityindex_pipeline/data/platform_reference.csv and the weight criteria of the methodology",
    )


# -- raw: what the platforms returned ---------------------------------------------------------------


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
    return _finding(
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
    return _finding(
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
        return _finding(current.clear().select("account_handle"), "no previous month to compare with")
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
    return _finding(
        outside.sort("ratio"),
        f"usable documents per account within {low}x-{high}x of the previous month "
        f"({joined.height} accounts compared)",
        fix="look at these accounts' pulls: a truncated pull (missing pages) or a doubled delivery; "
        "re-pull if so, or publish over the warning if the change is real",
        extra={"band": list(band), "min_difference": min_difference},
    )


# -- clean: posts and account metrics -------------------------------------------------------------


def hidden_follower_counts(documents: pl.DataFrame) -> pl.DataFrame:
    """(platform, account_handle) of YouTube channels whose document hides the subscriber count."""
    rows = []
    channels = documents.filter((pl.col("platform") == "youtube") & (pl.col("endpoint") == "channel"))
    for doc in channels.iter_rows(named=True):
        try:
            payload = load_json(doc["body"])
        except DocumentError:
            continue
        items = payload.get("items") if isinstance(payload, dict) else None
        channel = items[0] if isinstance(items, list) and items else None
        statistics = channel.get("statistics") if isinstance(channel, dict) else None
        if isinstance(statistics, dict) and statistics.get("hiddenSubscriberCount") is True:
            rows.append({"platform": "youtube", "account_handle": doc["account_handle"]})
    return pl.DataFrame(rows, schema={"platform": pl.String, "account_handle": pl.String}).unique()


def followers_present(
    metrics: pl.DataFrame, active_accounts: pl.DataFrame, hidden: pl.DataFrame, explained: pl.DataFrame
) -> Finding:
    """Every active account has its followers this month. Allowed gaps: the platform hides the count
    (`hidden`: the profile document says so) or the raw layer recorded why the account has no data
    (`explained`: platform, account_handle)."""
    keys = ["platform", "account_handle"]
    no_followers = (
        metrics.filter(pl.col("followers").is_null())
        .select("platform", "city_id", "account_handle")
        .join(hidden.select(keys), on=keys, how="anti")
        .with_columns(problem=pl.lit("followers missing and not hidden by the platform"))
    )
    no_row = (
        active_accounts.select("platform", "city_id", "account_handle")
        .join(metrics.select(keys), on=keys, how="anti")
        .join(explained.select(keys), on=keys, how="anti")
        .with_columns(problem=pl.lit("no metrics for an active account"))
    )
    return _finding(
        pl.concat([no_followers, no_row]).sort(keys),
        f"{metrics.height} accounts with metrics, {int(metrics['followers'].null_count())} without followers "
        f"({hidden.height} hidden by the platform)",
        fix="the profile document (page/user/channel) of these accounts is missing or unusable: re-pull them",
        extra={"hidden_by_platform": hidden.height},
    )


# -- plausibility: each count against the account's previous month and the platform's maximum ------
# The bounds and the known jumps that excuse a count come from plausibility.py (two versioned files).

TYPICAL_POST_MIN_POSTS = 3
"""An account's typical post is its median post of the month, over at least this many posts."""
_ACCOUNT_KEYS = ("platform", "city_id", "account_handle")
TYPICAL_POST_COLUMNS = (*_ACCOUNT_KEYS, "interactions", "interactions_complete", "views", "exposures")
"""The columns of clean.posts that `typical_post_values` reads (of the previous month, say)."""
_CHANGE_COLUMNS = ("platform", "account_handle", "measure", "scope", "direction", "ratio", "bound", "previous",
                   "current", "floor", "city_id")  # fmt: skip
"""A failing change, what matters first: the CLI shows the start of each row."""


def account_values(metrics: pl.DataFrame) -> pl.DataFrame:
    """An account-month's totals (clean.account_metrics) as rows of (platform, city_id, account_handle,
    scope, measure, value), the shape the plausibility rules judge; a withheld (null) measure has no row."""
    return (
        metrics.select(*_ACCOUNT_KEYS, *[pl.col(m).cast(pl.Float64) for m in plausibility.MEASURES])
        .unpivot(on=list(plausibility.MEASURES), index=list(_ACCOUNT_KEYS), variable_name="measure")
        .drop_nulls("value")
        .select(*_ACCOUNT_KEYS, pl.lit("account").alias("scope"), "measure", "value")
    )


def typical_post_values(posts: pl.DataFrame, min_posts: int = TYPICAL_POST_MIN_POSTS) -> pl.DataFrame:
    """Each account's median post of the month (clean.posts), per count, over the posts that give it
    (interactions: over posts whose parts are all given): how its posts usually fare, which one viral
    post does not move, while counts scaled by a unit or the wrong account do. Fewer than `min_posts`
    such posts: no value. Same rows as `account_values`, scope `typical_post`."""
    measures = plausibility.SCOPES["typical_post"]
    given = {m: pl.col(m) for m in measures} | {
        "interactions": pl.when(pl.col("interactions_complete")).then(pl.col("interactions"))
    }
    per_account = posts.group_by(*_ACCOUNT_KEYS).agg(
        *[pl.when(given[m].count() >= min_posts).then(given[m].median()).alias(m) for m in measures]
    )
    return (
        per_account.unpivot(on=list(measures), index=list(_ACCOUNT_KEYS), variable_name="measure")
        .drop_nulls("value")
        .select(
            *_ACCOUNT_KEYS, pl.lit("typical_post").alias("scope"), "measure", pl.col("value").cast(pl.Float64)
        )
        .sort(*_ACCOUNT_KEYS, "measure")
    )


def _changes_outside_bounds(
    current: pl.DataFrame, previous: pl.DataFrame, bounds: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """Rows of `current` whose ratio to the same account's `previous` value, both floored at the
    bound's `floor`, is above `rise_factor` or below 1 - `fall_bound`; and how many were judged (a
    value without a previous one, or withheld in either month, is not)."""
    keys = ["platform", "account_handle", "scope", "measure"]
    judged = (
        current.rename({"value": "current"})
        .join(previous.select(*keys, pl.col("value").alias("previous")), on=keys, how="inner")
        .join(bounds, on=["platform", "scope", "measure"], how="inner")
        .with_columns(ratio=pl.max_horizontal("current", "floor") / pl.max_horizontal("previous", "floor"))
    )
    rises = judged.filter(pl.col("ratio") > pl.col("rise_factor")).with_columns(
        direction=pl.lit("rise"), bound=pl.col("rise_factor")
    )
    falls = judged.filter(pl.col("ratio") < 1 - pl.col("fall_bound")).with_columns(
        direction=pl.lit("fall"), bound=1 - pl.col("fall_bound")
    )
    outside = pl.concat([rises, falls]).sort(pl.col("ratio").log().abs(), descending=True)
    return outside.select(_CHANGE_COLUMNS).with_columns(pl.col("ratio").round_sig_figs(4)), judged.height


def _flagged(rows: pl.DataFrame, jumps: pl.DataFrame, measure: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split `rows` into those no known jump excuses and those one does (with its `reason`): a jump of
    the account's `measure` (an expression over `rows`), or of `all`, in the month."""
    flags = (
        jumps.with_columns(
            pl.when(pl.col("measure") == plausibility.ALL_MEASURES)
            .then(pl.lit(list(plausibility.MEASURES)))
            .otherwise(pl.concat_list("measure"))
            .alias("measure")
        )
        .explode("measure")
        .unique(["platform", "account_handle", "measure"], keep="first", maintain_order=True)
        .select("platform", "account_handle", pl.col("measure").alias("_jump"), "reason")
    )
    marked = rows.with_columns(measure.alias("_jump")).join(
        flags, on=["platform", "account_handle", "_jump"], how="left", maintain_order="left"
    )
    return (
        marked.filter(pl.col("reason").is_null()).drop("_jump", "reason"),
        marked.filter(pl.col("reason").is_not_null()).drop("_jump"),
    )


_JUMP_FIX = (
    "check these accounts' documents against the platform: a count in the wrong unit, a lifetime total "
    "delivered as the month's, another account's data, or a pull of the wrong account; correct the drop "
    "and re-run the month, or, if the change is real (an account merged, a campaign, a purge of bots), "
    "flag it in cityindex_pipeline/data/known_jumps.csv with its reason"
)


def changes_plausible(
    metrics: pl.DataFrame,
    previous: pl.DataFrame,
    posts: pl.DataFrame,
    previous_posts: pl.DataFrame,
    bounds: pl.DataFrame,
    jumps: pl.DataFrame,
) -> Finding:
    """Each account's month against its previous month (`previous`, `previous_posts`: that month's
    clean.account_metrics and clean.posts): its totals and its typical post within the platform's
    rise factor and fall bound (`bounds`, plausibility.csv), unless a known jump (`jumps`) excuses the
    measure. A follower fall is `follower_change_within_bounds`'s. No previous month: passes, says so."""
    if previous.height == 0:
        return _finding(pl.DataFrame(schema=list(_CHANGE_COLUMNS)), "no previous month to compare with")
    current = pl.concat([account_values(metrics), typical_post_values(posts)])
    before = pl.concat([account_values(previous), typical_post_values(previous_posts)])
    outside, judged = _changes_outside_bounds(current, before, bounds)
    outside = outside.filter(~((pl.col("measure") == "followers") & (pl.col("direction") == "fall")))
    failures, flagged = _flagged(outside, jumps, pl.col("measure"))
    new_accounts = metrics.join(previous, on=["platform", "account_handle"], how="anti").height
    return _finding(
        failures,
        f"{judged} values of {metrics.height} accounts judged against the previous month (accounts new "
        f"this month: {new_accounts}); {outside.height} outside their bounds, {flagged.height} of them "
        "known jumps",
        fix=_JUMP_FIX,
        extra={
            "flagged_jumps": jsonable(flagged.head(20).to_dicts()),
            "accounts_without_previous_month": new_accounts,
        },
    )


def follower_change_within_bounds(
    metrics: pl.DataFrame, previous: pl.DataFrame, bounds: pl.DataFrame, jumps: pl.DataFrame
) -> Finding:
    """No account loses more of its followers against the previous month than its platform's
    `fall_bound` (half, by default), unless a known jump of its followers excuses it. Accounts with
    fewer followers than the bound's `floor` (both months floored at it) swing freely."""
    followers = pl.col("measure") == "followers"
    outside, _ = _changes_outside_bounds(
        account_values(metrics).filter(followers), account_values(previous).filter(followers), bounds
    )
    dropped = outside.filter(pl.col("direction") == "fall")
    failures, flagged = _flagged(dropped, jumps, pl.col("measure"))
    limits = bounds.filter(scope="account", measure="followers")["fall_bound"].drop_nulls().unique().sort()
    return _finding(
        failures,
        f"{dropped.height} accounts lost more than {' / '.join(f'{b:.0%}' for b in limits) or 'their bound'} "
        f"of their followers, {flagged.height} flagged as known jumps",
        fix="check the account on the platform: a wrong account id in accounts.csv, a pull of the wrong "
        "account, or a real reset; flag a real reset in cityindex_pipeline/data/known_jumps.csv "
        "(measure followers) with its reason",
        extra={"flagged_resets": jsonable(flagged.head(20).to_dicts())},
    )


def _counts_above_maxima(
    values: pl.DataFrame,
    keys: tuple[str, ...],
    bounds: pl.DataFrame,
    jumps: pl.DataFrame,
    measure: pl.Expr,
    detail: str,
) -> Finding:
    """`values` (rows with scope, measure and value) above their bound's maximum, unless a known jump
    of the account `measure` (an expression over them) excuses them; `keys` name a failing row."""
    above = (
        values.join(
            bounds.select("platform", "scope", "measure", "maximum", "source"),
            on=["platform", "scope", "measure"],
            how="inner",
        )
        .filter(pl.col("value") > pl.col("maximum"))
        .select(  # what matters first: the CLI shows the start of each row
            "platform",
            "account_handle",
            "measure",
            pl.col("value", "maximum").cast(pl.Int64),
            *[key for key in keys if key not in ("platform", "account_handle")],
            "source",
        )
        .sort(pl.col("value") / pl.col("maximum"), descending=True)
    )
    failures, flagged = _flagged(above, jumps, measure)
    return _finding(
        failures,
        f"{detail}; {above.height} above their platform's plausible maximum, {flagged.height} of them "
        "known jumps",
        fix="a count above the largest in public records is a defect of the drop (a unit, an overflow, a "
        "placeholder): correct the drop and re-run the month; if it is real, raise the maximum in "
        "cityindex_pipeline/data/plausibility.csv with its source, or flag it in known_jumps.csv",
        extra={"flagged_jumps": jsonable(flagged.head(20).to_dicts())},
    )


def account_counts_below_maxima(metrics: pl.DataFrame, bounds: pl.DataFrame, jumps: pl.DataFrame) -> Finding:
    """Every account-month total at most its platform's plausible maximum (plausibility.csv, scope
    account), unless a known jump of the measure excuses it."""
    values = account_values(metrics)
    detail = f"{values.height} totals of {metrics.height} accounts judged"
    return _counts_above_maxima(values, _ACCOUNT_KEYS, bounds, jumps, pl.col("measure"), detail)


def post_counts_below_maxima(posts: pl.DataFrame, bounds: pl.DataFrame, jumps: pl.DataFrame) -> Finding:
    """Every count of every post at most its platform's plausible maximum for one post (scope post),
    unless a known jump of the account measure it adds to (likes to interactions, reach to exposures)
    excuses it. Null (withheld) is not judged."""
    counts = plausibility.POST_COUNTS
    maxima = (
        bounds.filter(scope="post")
        .pivot(on="measure", index="platform", values="maximum")
        .select("platform", *[pl.col(c).alias(f"_max_{c}") for c in counts])
    )
    # compared column by column first: a month of posts is never unpivoted, only the few above a maximum
    above_any = (
        posts.select(*_ACCOUNT_KEYS, "post_id", *counts)
        .join(maxima, on="platform", how="left")
        .filter(pl.any_horizontal([pl.col(c) > pl.col(f"_max_{c}") for c in counts]).fill_null(False))
    )
    values = (
        above_any.select(*_ACCOUNT_KEYS, "post_id", *counts)
        .unpivot(on=list(counts), index=[*_ACCOUNT_KEYS, "post_id"], variable_name="measure")
        .drop_nulls("value")
        .with_columns(scope=pl.lit("post"))
    )
    given = int(posts.select(pl.sum_horizontal(pl.col(c).is_not_null() for c in counts).sum()).item() or 0)
    return _counts_above_maxima(
        values,
        (*_ACCOUNT_KEYS, "post_id"),
        bounds,
        jumps,
        pl.col("measure").replace_strict(plausibility.MEASURE_OF_POST_COUNT),
        f"{given} counts of {posts.height} posts judged",
    )


def interactions_consistent(
    metrics: pl.DataFrame, posts: pl.DataFrame, parts: dict[str, tuple[str, ...]], tolerance: float = 1e-9
) -> Finding:
    """Interactions add up: each post's from its parts (the methodology's, nulls adding nothing), each
    account's from its posts, and interactions per post = interactions / posts (null without posts)."""
    columns = {"platform": pl.String, "account_handle": pl.String, "post_id": pl.String,
               "problem": pl.String, "stored": pl.Float64, "expected": pl.Float64}  # fmt: skip
    failures = []
    for platform, names in parts.items():
        of_platform = posts.filter(platform=platform)
        if of_platform.height == 0:
            continue
        expected = pl.sum_horizontal([pl.col(n).fill_null(0) for n in names])
        bad = of_platform.filter(pl.col("interactions") != expected).select(
            "platform",
            "account_handle",
            "post_id",
            pl.lit("post interactions differ from the sum of their parts").alias("problem"),
            pl.col("interactions").cast(pl.Float64).alias("stored"),
            expected.cast(pl.Float64).alias("expected"),
        )
        failures.append(bad)
    per_account = posts.group_by("platform", "account_handle").agg(
        pl.len().alias("_posts"), pl.col("interactions").sum().alias("_interactions")
    )
    checked = metrics.join(per_account, on=["platform", "account_handle"], how="left").with_columns(
        pl.col("_posts", "_interactions").fill_null(0)
    )
    failures.append(
        checked.filter(pl.col("interactions") != pl.col("_interactions")).select(
            "platform",
            "account_handle",
            pl.lit(None, pl.String).alias("post_id"),
            pl.lit("account interactions differ from the sum over its posts").alias("problem"),
            pl.col("interactions").cast(pl.Float64).alias("stored"),
            pl.col("_interactions").cast(pl.Float64).alias("expected"),
        )
    )
    failures.append(
        checked.filter(pl.col("posts") != pl.col("_posts")).select(
            "platform",
            "account_handle",
            pl.lit(None, pl.String).alias("post_id"),
            pl.lit("account posts differ from its posts in clean.posts").alias("problem"),
            pl.col("posts").cast(pl.Float64).alias("stored"),
            pl.col("_posts").cast(pl.Float64).alias("expected"),
        )
    )
    ratio = pl.when(pl.col("posts") > 0).then(pl.col("interactions") / pl.col("posts"))
    wrong_ratio = (
        (pl.col("interactions_per_post").is_null() != ratio.is_null())
        | ((pl.col("interactions_per_post") - ratio).abs() > tolerance * pl.max_horizontal(ratio.abs(), 1.0))
    ).fill_null(False)
    failures.append(
        checked.filter(wrong_ratio).select(
            "platform",
            "account_handle",
            pl.lit(None, pl.String).alias("post_id"),
            pl.lit("interactions_per_post is not interactions / posts").alias("problem"),
            pl.col("interactions_per_post").alias("stored"),
            ratio.alias("expected"),
        )
    )
    found = pl.concat([f.cast(columns) for f in failures]) if failures else pl.DataFrame(schema=columns)
    return _finding(
        found.sort("problem", "platform", "account_handle"),
        f"{posts.height} posts and {metrics.height} accounts reconciled",
        fix="the clean layer is inconsistent with itself: re-materialise clean_posts and "
        "clean_account_metrics for the month",
    )


# -- index ----------------------------------------------------------------------------------------


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
    return _finding(
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


# -- freshness ------------------------------------------------------------------------------------

DEFAULT_SETTLING_DAYS = 5


def publishable_from(month: Month, settling_days: int) -> datetime:
    """When a month may be published: its close (Beijing time) plus the settling days, in UTC."""
    return month.end_utc + timedelta(days=settling_days)


def month_settled(month: Month, now: datetime, settling_days: int = DEFAULT_SETTLING_DAYS) -> Finding:
    """A month is published only once it has closed and settled (late counts and deliveries arrive)."""
    opens = publishable_from(month, settling_days)
    now = now.astimezone(UTC)
    detail = (
        f"{month} closed {month.end_utc.isoformat()}; with {settling_days} settling days it is "
        f"publishable from {opens.isoformat()}; now {now.isoformat()}"
    )
    if now >= opens:
        return Finding(True, 0, [], detail, extra={"publishable_from": opens.isoformat()})
    return Finding(
        False,
        1,
        [{"month": str(month), "publishable_from": opens.isoformat(), "now": now.isoformat()}],
        detail,
        fix=f"wait until {opens.isoformat()} and re-run the month (CITYINDEX_PUBLICATION_DELAY_DAYS sets the days)",
        extra={"publishable_from": opens.isoformat()},
    )
