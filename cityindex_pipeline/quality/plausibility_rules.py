"""Plausibility of the clean layer: each count against the account's previous month and the platform's
maximum. The bounds and the known jumps that excuse a count come from `plausibility.py` (two
versioned files)."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.quality.findings import Finding, finding_from, jsonable
from cityindex_pipeline.reference import plausibility

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
        return finding_from(pl.DataFrame(schema=list(_CHANGE_COLUMNS)), "no previous month to compare with")
    current = pl.concat([account_values(metrics), typical_post_values(posts)])
    before = pl.concat([account_values(previous), typical_post_values(previous_posts)])
    outside, judged = _changes_outside_bounds(current, before, bounds)
    outside = outside.filter(~((pl.col("measure") == "followers") & (pl.col("direction") == "fall")))
    failures, flagged = _flagged(outside, jumps, pl.col("measure"))
    new_accounts = metrics.join(previous, on=["platform", "account_handle"], how="anti").height
    return finding_from(
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
    return finding_from(
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
    return finding_from(
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
