"""The DuckDB-SQL peer: the month's data work as an analyst fluent in SQL would write it.

The documents (the same frames the other peers are given) are registered with an in-memory DuckDB
and everything from the bodies to each city's indicators is plain SQL: DuckDB's JSON functions
take each endpoint's records apart, one window function keeps the later copy of a post seen on two
pages, a join lays the insights over the posts, and `GROUP BY`s make the accounts' and the cities'
figures. The index itself, a treatment loop over 133 values an indicator, is the pandas peer's
(`peer_scoring.py`): SQL adds nothing there. Like the pandas peer it does not quarantine; on the
plain shapes it gives the pipeline's scores, which a test asserts.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from benchmarks.peer_scoring import comprehensive_scores, platform_scores
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import load_methodology

COUNTS = ("likes", "comments", "shares", "quotes", "saves", "views", "exposures", "reach")

# Each platform's posts: a record `r` of a posts document `d` (with its account and page), as the
# columns post_id, published, content_type and the counts; a count the platform lacks is NULL.
POST_SELECTS = {
    "facebook": """
        r->>'id', (r->>'created_time')::TIMESTAMPTZ,
        CASE r->>'status_type' WHEN 'added_photos' THEN 'photo' WHEN 'added_video' THEN 'video'
            WHEN 'mobile_status_update' THEN 'text' WHEN 'shared_story' THEN 'link' ELSE 'other' END,
        (r->'reactions'->'summary'->>'total_count')::BIGINT, (r->'comments'->'summary'->>'total_count')::BIGINT,
        (r->'shares'->>'count')::BIGINT, NULL, NULL, NULL, NULL, NULL""",
    "instagram": """
        r->>'id', (r->>'timestamp')::TIMESTAMPTZ,
        CASE WHEN r->>'media_product_type' = 'REELS' THEN 'video' WHEN r->>'media_type' = 'IMAGE' THEN 'photo'
            WHEN r->>'media_type' = 'VIDEO' THEN 'video' WHEN r->>'media_type' = 'CAROUSEL_ALBUM' THEN 'album'
            ELSE 'other' END,
        (r->>'like_count')::BIGINT, (r->>'comments_count')::BIGINT, NULL, NULL, NULL, NULL, NULL, NULL""",
    "x": """
        r->>'id', (r->>'created_at')::TIMESTAMPTZ, NULL,
        (r->'public_metrics'->>'like_count')::BIGINT, (r->'public_metrics'->>'reply_count')::BIGINT,
        (r->'public_metrics'->>'retweet_count')::BIGINT, (r->'public_metrics'->>'quote_count')::BIGINT,
        (r->'public_metrics'->>'bookmark_count')::BIGINT, NULL,
        (r->'public_metrics'->>'impression_count')::BIGINT, NULL""",
    "youtube": """
        r->>'id', (r->'snippet'->>'publishedAt')::TIMESTAMPTZ, 'video',
        (r->'statistics'->>'likeCount')::BIGINT, (r->'statistics'->>'commentCount')::BIGINT, NULL, NULL, NULL,
        (r->'statistics'->>'viewCount')::BIGINT, NULL, NULL""",
}
RECORDS = {"facebook": "$.data[*]", "instagram": "$.data[*]", "x": "$.data[*]", "youtube": "$.items[*]"}
POSTS = {"facebook": "posts", "instagram": "media", "x": "tweets", "youtube": "videos"}
FOLLOWERS = {
    "facebook": "(j->>'followers_count')::BIGINT",
    "instagram": "(j->>'followers_count')::BIGINT",
    "x": "(j->'data'->'public_metrics'->>'followers_count')::BIGINT",
    "youtube": "CASE WHEN (j->'items'->0->'statistics'->>'hiddenSubscriberCount')::BOOLEAN THEN NULL "
    "ELSE (j->'items'->0->'statistics'->>'subscriberCount')::BIGINT END",
}
PROFILES = {"facebook": "page", "instagram": "user", "x": "user", "youtube": "channel"}
INSIGHTS = {
    "facebook": ("post_insights", {"exposures": ("post_media_view", "post_impressions"),
                                   "reach": ("post_impressions_unique",)}),
    "instagram": ("media_insights", {"exposures": ("views", "impressions"), "reach": ("reach",),
                                     "views": ("views", "plays"), "saves": ("saved",)}),
}  # fmt: skip


def _posts_sql(platform: str) -> str:
    """The platform's posts, one row per post and account, the later page's copy of a duplicate."""
    columns = ", ".join(("post_id", "published", "content_type", *COUNTS))
    path = RECORDS[platform]
    records = f"""
        SELECT account_handle, page, unnest(json_extract(body::JSON, '{path}')) AS r,
               unnest(generate_series(1, json_array_length(body::JSON, '{path[:-3]}')::BIGINT)) AS i
        FROM documents
        WHERE platform = '{platform}' AND endpoint = '{POSTS[platform]}'
          AND account_handle IN (SELECT account_handle FROM accounts WHERE platform = '{platform}')"""
    keep_record = ", r" if platform == "x" else ""
    named = f"""
        SELECT * FROM (SELECT account_handle, page, i, {POST_SELECTS[platform]}{keep_record} FROM ({records}))
            AS p(account_handle, page, i, {columns}{keep_record})"""
    if platform == "x":
        named = _with_x_media(named)
    return f"""
        SELECT * FROM ({named})
        QUALIFY row_number() OVER (PARTITION BY account_handle, post_id ORDER BY page DESC, i DESC) = 1"""


def _with_x_media(named: str) -> str:
    """A tweet's content type and plays from the media its keys name in its page's `includes.media`."""
    return f"""
        WITH t AS ({named}),
        media AS (
            SELECT account_handle, page, m ->> 'media_key' AS key, m ->> 'type' AS kind,
                   (m -> 'public_metrics' ->> 'view_count')::BIGINT AS plays
            FROM documents, unnest(json_extract(body::JSON, '$.includes.media[*]')) AS u(m)
            WHERE platform = 'x' AND endpoint = 'tweets'
        ),
        attached AS (
            SELECT t.account_handle, t.page, t.i, media.kind, media.plays, k.n AS position
            FROM t, unnest(json_extract_string(t.r, '$.attachments.media_keys[*]')) WITH ORDINALITY AS k(key, n)
            JOIN media ON media.account_handle = t.account_handle AND media.page = t.page AND media.key = k.key
        ),
        summary AS (
            SELECT account_handle, page, i, bool_or(kind IN ('video', 'animated_gif')) AS has_video,
                   arg_min(CASE WHEN kind = 'photo' THEN 'photo' ELSE 'other' END, position) AS first_kind,
                   sum(plays) FILTER (WHERE kind = 'video') AS plays
            FROM attached GROUP BY ALL
        )
        SELECT t.* EXCLUDE (content_type, views, r),
               CASE WHEN s.has_video THEN 'video' ELSE coalesce(s.first_kind, 'text') END AS content_type,
               s.plays AS views
        FROM t LEFT JOIN summary s USING (account_handle, page, i)"""


def _insights_sql(platform: str) -> str:
    endpoint, fields = INSIGHTS[platform]
    picks = ", ".join(
        f"coalesce({', '.join(f'max(value) FILTER (WHERE name = {name!r})' for name in names)}) AS {field}"
        for field, names in fields.items()
    )
    return f"""
        WITH entries AS (
            SELECT account_handle, page, key AS post_id, body::JSON -> key AS entry
            FROM documents, unnest(json_keys(body::JSON)) AS k(key)
            WHERE platform = '{platform}' AND endpoint = '{endpoint}'
        ),
        metrics AS (
            SELECT account_handle, page, post_id, m ->> 'name' AS name,
                   coalesce(m -> 'total_value' ->> 'value', m -> 'values' -> -1 ->> 'value')::BIGINT AS value
            FROM entries, unnest(json_extract(entry, '$.insights.data[*]')) AS u(m)
        )
        SELECT account_handle, post_id, {picks}
        FROM metrics GROUP BY account_handle, page, post_id
        QUALIFY row_number() OVER (PARTITION BY account_handle, post_id ORDER BY page DESC) = 1"""


def _platform_posts_sql(platform: str, month: Month, methodology: Any) -> str:
    weights = (methodology.interaction_weights or {}).get(platform, {})
    interactions = " + ".join(
        f"coalesce({part}, 0) * {float(weights.get(part, 1.0))!r}"
        for part in methodology.interactions[platform]
    )
    posts = _posts_sql(platform)
    if platform in INSIGHTS:
        fields = INSIGHTS[platform][1]
        overrides = ", ".join(f"coalesce(n.{f}, p.{f}) AS {f}" for f in fields)
        posts = f"""
            SELECT p.* REPLACE ({overrides})
            FROM ({posts}) p LEFT JOIN ({_insights_sql(platform)}) n USING (account_handle, post_id)"""
    return f"""
        SELECT p.*, a.city_id, {interactions} AS weighted_interactions,
               CAST(timezone('Asia/Shanghai', published) AS DATE) AS day
        FROM ({posts}) p JOIN accounts a ON a.platform = '{platform}' AND a.account_handle = p.account_handle
        WHERE published >= '{month.start_utc.isoformat()}'::TIMESTAMPTZ
          AND published < '{month.end_utc.isoformat()}'::TIMESTAMPTZ"""


def _indicators_sql(platform: str, measure: str, silent_views: float | None) -> str:
    silent = "NULL" if silent_views is None else repr(float(silent_views))
    return f"""
        WITH profiles AS (
            SELECT account_handle, {FOLLOWERS[platform]} AS followers
            FROM (SELECT account_handle, body::JSON AS j, page FROM documents
                  WHERE platform = '{platform}' AND endpoint = '{PROFILES[platform]}')
            QUALIFY row_number() OVER (PARTITION BY account_handle ORDER BY page DESC) = 1
        ),
        per_account AS (
            SELECT account_handle, count(*) AS posts, count(*) FILTER (WHERE content_type = 'video') AS video_posts,
                   sum(weighted_interactions) AS interactions
            FROM platform_posts GROUP BY account_handle
        ),
        metrics AS (
            SELECT a.city_id, a.account_handle, pr.followers, pv.followers AS followers_previous,
                   coalesce(pa.posts, 0) AS posts, coalesce(pa.video_posts, 0) AS video_posts,
                   coalesce(pa.interactions, 0.0) AS interactions
            FROM accounts a
            LEFT JOIN per_account pa USING (account_handle)
            LEFT JOIN profiles pr USING (account_handle)
            LEFT JOIN previous pv ON pv.platform = '{platform}' AND pv.account_handle = a.account_handle
            WHERE a.platform = '{platform}' AND a.active AND (pr.account_handle IS NOT NULL OR pa.posts IS NOT NULL)
        ),
        city AS (
            SELECT city_id, sum(posts) AS posts, sum(video_posts) AS video_posts, sum(interactions) AS interactions,
                   sum(interactions) FILTER (WHERE followers IS NOT NULL) AS rated_interactions,
                   sum(followers) AS followers,
                   sum(followers - followers_previous) AS growth, sum(followers_previous)
                       FILTER (WHERE followers IS NOT NULL AND followers_previous IS NOT NULL) AS base
            FROM metrics GROUP BY city_id
        ),
        city_posts AS (
            SELECT city_id, count(DISTINCT day) AS active_days, sum({measure}) AS views
            FROM platform_posts GROUP BY city_id
        )
        SELECT c.city_id, c.posts::DOUBLE AS posts, coalesce(cp.active_days, 0)::DOUBLE AS active_days,
               CASE WHEN c.posts > 0 THEN c.video_posts / c.posts END AS video_share,
               c.interactions::DOUBLE AS interactions,
               CASE WHEN c.posts > 0 THEN c.interactions / c.posts END AS interactions_per_post,
               CASE WHEN coalesce(c.followers, 0) > 0 THEN coalesce(c.rated_interactions, 0) / c.followers * 1000 END
                   AS interactions_per_thousand_followers,
               c.followers::DOUBLE AS followers,
               CASE WHEN c.base > 0 THEN c.growth / c.base END AS follower_growth_rate,
               (CASE WHEN c.posts > 0 THEN cp.views ELSE {silent} END)::DOUBLE AS views
        FROM city c LEFT JOIN city_posts cp USING (city_id)
        ORDER BY c.city_id"""


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
    frames = [frame.assign(platform=platform) for platform, frame in documents.items()]
    known = (previous_followers or {}).items()
    previous = pa.table(
        {
            "platform": pa.array([p for (p, _h), _f in known], pa.string()),
            "account_handle": pa.array([h for (_p, h), _f in known], pa.string()),
            "followers": pa.array([f for _key, f in known], pa.int64()),
        }
    )
    scores = {}
    with duckdb.connect() as con:
        con.register(
            "documents", pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
        )
        con.register("accounts", accounts)
        con.register("previous", previous)
        silent_views = 0.0 if methodology.silent_accounts == "zero" else None
        for platform in methodology.coverage.platforms_in(month):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE platform_posts AS {_platform_posts_sql(platform, month, methodology)}"
            )
            measure = methodology.views_measure[platform]
            indicators = con.execute(_indicators_sql(platform, measure, silent_views)).df()
            if not indicators.empty:
                scores[platform] = platform_scores(indicators, methodology)
    return comprehensive_scores(scores, cities, weights, qualitative, methodology)
