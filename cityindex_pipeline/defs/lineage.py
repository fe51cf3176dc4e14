"""Column-level lineage: which upstream columns each warehouse column is computed from.

Plain data, read by the catalog (Dagster's `dagster/column_lineage`, shown in the UI) and checked by
a test against the warehouse DDL, so that a renamed column cannot leave the lineage stale.
"""

from __future__ import annotations

from cityindex_pipeline.core.platforms import PLATFORMS

Source = tuple[str, str]
"""(upstream asset, column of the table it writes)."""

RAW = tuple(f"raw_{platform}" for platform in PLATFORMS)
COUNTS = ("likes", "comments", "shares", "quotes", "saves", "views", "exposures", "reach")


def _from_raw(*columns: str) -> tuple[Source, ...]:
    return tuple((asset, column) for asset in RAW for column in columns)


METRICS_USED = (
    "posts", "video_posts", "interactions", "followers", "followers_previous", "follower_growth", "views",
)  # fmt: skip
"""The account metrics the city indicators aggregate (with the posts' days and views)."""

METRICS_USED = (
    "posts",
    "video_posts",
    "interactions",
    "followers",
    "followers_previous",
    "follower_growth",
    "views",
)
"""The account metrics the city indicators aggregate (with the posts' days and views)."""

COLUMN_LINEAGE: dict[str, dict[str, tuple[Source, ...]]] = {
    "clean_posts": {
        "post_id": _from_raw("body"),
        "published_at_utc": _from_raw("body"),
        "published_at_beijing": _from_raw("body"),
        "content_type": _from_raw("body"),
        **{count: _from_raw("body") for count in COUNTS},
        "interactions": _from_raw("body"),
        "source_sha256": _from_raw("sha256"),
        "pull_id": _from_raw("pull_id"),
        "fetched_at": _from_raw("fetched_at"),
    },
    "clean_account_metrics": {
        "followers": _from_raw("body"),
        "followers_previous": (("clean_account_metrics", "followers"),),
        "follower_growth": (("clean_account_metrics", "followers"),),
        "posts": (("clean_posts", "post_id"),),
        "active_days": (("clean_posts", "published_at_beijing"),),
        "video_posts": (("clean_posts", "content_type"),),
        "interactions": (("clean_posts", "interactions"),),
        "interactions_per_post": (("clean_posts", "interactions"), ("clean_posts", "post_id")),
        "views": (("clean_posts", "views"),),
        "views_per_video": (("clean_posts", "views"), ("clean_posts", "content_type")),
        "exposures": (("clean_posts", "exposures"),),
    },
    "platform_indicators": {
        "raw_value": (
            *(("clean_account_metrics", column) for column in METRICS_USED),
            ("clean_posts", "published_at_beijing"),
            ("clean_posts", "views"),
        ),
        "treated_value": (("platform_indicators", "raw_value"),),
        "normalised": (("platform_indicators", "treated_value"),),
    },
    **{
        f"platform_index_{platform}": {
            "generate_score": (("platform_indicators", "normalised"),),
            "interactive_score": (("platform_indicators", "normalised"),),
            "utilize_score": (("platform_indicators", "normalised"),),
            "score": (("platform_indicators", "normalised"),),
            "previous_score": ((f"platform_index_{platform}", "score"),),
        }
        for platform in PLATFORMS
    },
    "comprehensive_index": {
        "quantitative_score": (
            *((f"platform_index_{platform}", "score") for platform in PLATFORMS),
            ("platform_weights", "weight"),
        ),
        "qualitative_score": (("qualitative_scores", "score"),),
        "score": (
            *((f"platform_index_{platform}", "score") for platform in PLATFORMS),
            ("platform_weights", "weight"),
            ("qualitative_scores", "score"),
        ),
        "previous_score": (("comprehensive_index", "score"),),
        "previous_rank": (("comprehensive_index", "rank"),),
    },
    "published_index": {
        "rank": (("comprehensive_index", "rank"),),
        "score": (("comprehensive_index", "score"),),
        "quantitative_score": (("comprehensive_index", "quantitative_score"),),
        "qualitative_score": (("comprehensive_index", "qualitative_score"),),
        **{f"{platform}_score": ((f"platform_index_{platform}", "score"),) for platform in PLATFORMS},
        "previous_rank": (("comprehensive_index", "previous_rank"),),
        "rank_change": (("comprehensive_index", "rank_change"),),
        "score_change": (("comprehensive_index", "score_change"),),
        "median_rank": (("index_uncertainty", "median_rank"),),
        "rank_p05": (("index_uncertainty", "rank_p05"),),
        "rank_p95": (("index_uncertainty", "rank_p95"),),
        "rank_robust": (("index_uncertainty", "robust"),),
    },
}
