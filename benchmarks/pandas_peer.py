"""The peer: the same month computed the way an analyst would in a notebook, with pandas.

From the stored raw documents (one pandas frame per platform) to each city's comprehensive score,
for the default methodology (treatment by skewness and kurtosis, min-max, arithmetic aggregation).
It reads the documents with the project's per-platform parsers (pure functions from a response to
rows: the quirks of each API are not what is being compared) and does everything after them, the
cleaning and the index, in pandas and plain Python: row loops, `apply`, dictionaries.
`cityindex bench` times it against the pipeline, and a test checks it gives the same scores.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import load_methodology
from cityindex_pipeline.parsing import (
    INSIGHT_ENDPOINTS,
    POST_ENDPOINTS,
    PROFILE_ENDPOINTS,
    DocumentError,
    parse_document,
)

INSIGHT_OVERRIDES = ("exposures", "reach", "views", "saves")
BEIJING = pd.Timedelta(hours=8)


def clean_posts(documents: pd.DataFrame, accounts: pd.DataFrame, month: Month, platform: str) -> pd.DataFrame:
    methodology = load_methodology()
    known = set(accounts["account_handle"])
    docs = documents.sort_values(["account_handle", "endpoint", "page"])
    posts, insights = [], {}
    for _, doc in docs.iterrows():
        if doc["account_handle"] not in known:
            continue
        try:
            parsed = parse_document(platform, doc["endpoint"], doc["body"])
        except DocumentError:
            continue
        if doc["endpoint"] == POST_ENDPOINTS[platform]:
            for row in parsed.rows:
                posts.append({**row, "account_handle": doc["account_handle"]})
        elif doc["endpoint"] == INSIGHT_ENDPOINTS.get(platform):
            for row in parsed.rows:
                insights[(doc["account_handle"], row["post_id"])] = row
    if not posts:
        return pd.DataFrame(columns=["account_handle", "post_id", "content_type", "interactions"])
    frame = pd.DataFrame(posts).drop_duplicates(["account_handle", "post_id"], keep="last")
    frame = frame[frame["published_at_utc"].apply(month.contains)].copy()

    def with_insight(row: pd.Series) -> pd.Series:
        insight = insights.get((row["account_handle"], row["post_id"]))
        if insight is not None:
            for name in INSIGHT_OVERRIDES:
                if insight[name] is not None:
                    row[name] = insight[name]
        return row

    frame = frame.apply(with_insight, axis=1)
    parts = list(methodology.interactions[platform])
    weights = (methodology.interaction_weights or {}).get(platform, dict.fromkeys(parts, 1.0))
    frame["interactions"] = frame[parts].apply(
        lambda r: sum(v * weights[part] for part, v in r.items() if pd.notna(v)), axis=1
    )
    frame["day"] = frame["published_at_utc"].apply(lambda t: (pd.Timestamp(t) + BEIJING).date())
    frame["platform"] = platform
    city = dict(zip(accounts["account_handle"], accounts["city_id"], strict=True))
    frame["city_id"] = frame["account_handle"].map(city)
    return frame


def profiles(documents: pd.DataFrame, platform: str) -> dict[str, Any]:
    followers = {}
    docs = documents[documents["endpoint"] == PROFILE_ENDPOINTS[platform]]
    for _, doc in docs.sort_values(["account_handle", "page"]).iterrows():
        try:
            parsed = parse_document(platform, doc["endpoint"], doc["body"])
        except DocumentError:
            continue
        for row in parsed.rows:
            followers[doc["account_handle"]] = row["followers"]
    return followers


def _sum_or_none(values: pd.Series) -> float | None:
    present = values.dropna()
    return float(present.sum()) if len(present) else None


def account_metrics(
    posts: pd.DataFrame, followers: dict[str, Any], accounts: pd.DataFrame, previous: dict[str, Any]
) -> pd.DataFrame:
    rows = []
    by_account = dict(tuple(posts.groupby("account_handle"))) if len(posts) else {}
    for _, account in accounts.iterrows():
        handle = account["account_handle"]
        mine = by_account.get(handle, posts.iloc[0:0])
        if handle not in followers and len(mine) == 0:
            continue
        count = len(mine)
        current = followers.get(handle)
        before = previous.get(handle)
        rows.append(
            {
                "city_id": account["city_id"],
                "account_handle": handle,
                "followers": current,
                "follower_growth": None if current is None or before is None else current - before,
                "followers_previous": before,
                "posts": count,
                "video_posts": int((mine["content_type"] == "video").sum()) if count else 0,
                "interactions": float(mine["interactions"].sum()) if count else 0.0,
            }
        )
    return pd.DataFrame(rows)


def city_indicators(
    metrics: pd.DataFrame, posts: pd.DataFrame, measure: str, silent_views: float | None
) -> pd.DataFrame:
    rows = []
    by_city = dict(tuple(posts.groupby("city_id"))) if len(posts) else {}
    for city_id, group in metrics.groupby("city_id"):
        city_posts = by_city.get(city_id, posts.iloc[0:0])
        n_posts = group["posts"].sum()
        followers = group["followers"].dropna()
        both = group["followers"].notna() & group["followers_previous"].notna()
        base = group.loc[both, "followers_previous"].sum()
        with_followers = group[group["followers"].notna()]
        rate_followers = with_followers["followers"].sum()
        rows.append(
            {
                "city_id": city_id,
                "posts": float(n_posts),
                "active_days": float(city_posts["day"].nunique()) if len(city_posts) else 0.0,
                "video_share": group["video_posts"].sum() / n_posts if n_posts > 0 else None,
                "interactions": float(group["interactions"].sum()),
                "interactions_per_post": group["interactions"].sum() / n_posts if n_posts > 0 else None,
                "interactions_per_thousand_followers": (
                    with_followers["interactions"].sum() / rate_followers * 1000
                    if rate_followers > 0
                    else None
                ),
                "followers": float(followers.sum()) if len(followers) else None,
                "follower_growth_rate": (
                    group.loc[both, "follower_growth"].sum() / base if base > 0 else None
                ),
                "views": silent_views if n_posts == 0 else _sum_or_none(city_posts[measure]),
            }
        )
    return pd.DataFrame(rows)


def _skew(x: np.ndarray) -> float | None:
    n = len(x)
    if n < 3:
        return None
    d = x - x.mean()
    s2 = (d**2).sum()
    if s2 <= 0:
        return None
    return math.sqrt(n * (n - 1)) / (n - 2) * math.sqrt(n) * (d**3).sum() / s2**1.5


def _kurt(x: np.ndarray) -> float | None:
    n = len(x)
    if n < 4:
        return None
    d = x - x.mean()
    s2 = (d**2).sum()
    if s2 <= 0:
        return None
    r = n * (d**4).sum() / s2**2
    return ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))


def _flagged(x: np.ndarray, spec: Any) -> bool:
    s, k = _skew(x), _kurt(x)
    return s is not None and k is not None and abs(s) > spec.skewness and k > spec.kurtosis


def treat(values: pd.Series, spec: Any) -> pd.Series:
    """Winsorise the skewed side one value at a time (at most a few cities), else log; as COINr."""
    x = values.dropna().to_numpy(dtype=float)
    if not _flagged(x, spec):
        return values
    result = values
    for step in spec.steps:
        if step == "winsorise":
            treated, low, high = x.copy(), -np.inf, np.inf
            together = spec.ties_at_extreme == "together"  # COINr: the cap is checked before a step
            while _flagged(treated, spec):
                if together and (treated != x).sum() >= spec.winsorise_max_points:
                    break
                high_side = (_skew(treated) or 0.0) > 0
                extreme = treated.max() if high_side else treated.min()
                rest = treated[treated != extreme]
                candidate = np.where(treated == extreme, rest.max() if high_side else rest.min(), treated)
                if not together and (candidate != x).sum() > spec.winsorise_max_points:
                    break
                treated = candidate
                if high_side:
                    high = rest.max()
                else:
                    low = rest.min()
            if (treated != x).sum() == 0:
                continue
            result = values.clip(lower=low, upper=high)
            if not _flagged(result.dropna().to_numpy(dtype=float), spec):
                return result
        elif step == "log":
            if spec.log == "log_ct":  # COINr's log_CT
                result = np.log(values - x.min() + 0.01 * (x.max() - x.min()))
            else:
                result = np.log1p((values - min(0.0, x.min())).clip(lower=0.0))
            if not _flagged(result.dropna().to_numpy(dtype=float), spec):
                return result
    return result


CONSTANT_SCORE = {"drop": None, "fifty": 50.0}
"""What a constant indicator scores, by the methodology's `normalisation_constant`."""


def platform_scores(indicators: pd.DataFrame, methodology: Any) -> pd.DataFrame:
    scored = indicators[["city_id"]].copy()
    for dimension in methodology.dimensions:
        weighted, weights = 0.0, 0.0
        for name, weight in dimension.indicators.items():
            x = treat(indicators[name].astype(float), methodology.treatment)
            low, high = x.min(), x.max()
            normalised = x.apply(
                lambda v, low=low, high=high, constant=CONSTANT_SCORE[methodology.normalisation_constant]: (
                    None if pd.isna(v) else constant if high == low else (v - low) / (high - low) * 100.0
                )
            ).astype(float)
            weighted = weighted + normalised.fillna(0.0) * weight
            weights = weights + normalised.notna() * weight
        scored[dimension.name] = weighted / weights.where(weights > 0)
        if methodology.aggregation.missing_dimension != "reweight":
            scored[dimension.name] = scored[dimension.name].fillna(0.0)
    present = sum(scored[d.name].notna() * d.weight for d in methodology.dimensions)
    total = sum(scored[d.name].fillna(0.0) * d.weight for d in methodology.dimensions)
    scored["score"] = (total / present.where(present > 0)).fillna(0.0)  # no dimension: adds 0
    return scored


def run_peer(
    documents: dict[str, pd.DataFrame],
    accounts: pd.DataFrame,
    cities: pd.DataFrame,
    weights: pd.DataFrame,
    qualitative: pd.DataFrame,
    month: Month,
    previous_followers: dict[tuple[str, str], Any] | None = None,
) -> pd.DataFrame:
    """Each city's comprehensive score: columns city_id and score."""
    methodology = load_methodology()
    previous_followers = previous_followers or {}
    weight_of = dict(zip(weights["platform"], weights["weight"], strict=True))
    quantitative = dict.fromkeys(cities["city_id"], 0.0)
    for platform in methodology.coverage.platforms_in(month):
        mine = accounts[(accounts["platform"] == platform) & accounts["active"]]
        posts = clean_posts(documents[platform], accounts[accounts["platform"] == platform], month, platform)
        previous = {h: f for (p, h), f in previous_followers.items() if p == platform}
        metrics = account_metrics(posts, profiles(documents[platform], platform), mine, previous)
        if metrics.empty or platform not in weight_of:
            continue
        silent_views = 0.0 if methodology.silent_accounts == "zero" else None
        indicators = city_indicators(metrics, posts, methodology.views_measure[platform], silent_views)
        for _, row in platform_scores(indicators, methodology).iterrows():
            quantitative[row["city_id"]] += row["score"] * weight_of[platform]
    panel = qualitative.groupby("city_id")["score"].mean().to_dict()
    return pd.DataFrame(
        [
            {
                "city_id": city,
                "score": methodology.quantitative_share * quantitative[city]
                + methodology.qualitative_share * panel.get(city, 0.0),
            }
            for city in cities["city_id"]
        ]
    )
