"""The extract-and-write floor of raw → clean: plain DuckDB SQL that reads a month's stored documents,
extracts the typed rows of `clean.posts` and `clean.account_metrics` and writes them to tables, and
nothing else (no check of a value's shape, no quarantine, no fallback to the record parsers: it
trusts every document to be well formed, which the simulated ones are).

It is what an analyst fluent in SQL would write for the same tables: one typed `from_json` per
endpoint, `unnest` of the records, joins for insights, media and the registry, one `GROUP BY` for
the metrics. Its tables are compared with the pipeline's, row for row (`EXCEPT ALL` both ways,
without `run_id`), so a floor that drifted from the job would be seen, not timed.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from cityindex_pipeline.core.months import Month

POSTS_SQL = r"""
CREATE TEMP TABLE docs AS
SELECT d.*, row_number() OVER (ORDER BY d.platform, d.account_handle, d.endpoint, d.page) AS doc_order
FROM lake.raw.documents d
WHERE d.pull_id IN (SELECT pull_id FROM latest_pulls);

CREATE TEMP TABLE accounts AS
SELECT platform, account_handle, last(city_id ORDER BY rowid) AS city_id,
       last(platform_account_id ORDER BY rowid) AS platform_account_id,
       bool_or(active) AS active
FROM (SELECT *, row_number() OVER () AS rowid FROM lake.clean.registry_accounts WHERE month = $month)
GROUP BY ALL;

CREATE TEMP TABLE post_rows AS
WITH facebook AS (
    SELECT d.doc_order, r.ordinality AS record_order, r.p.id AS post_id,
           CAST(r.p.created_time AS TIMESTAMPTZ) AS published_at_utc,
           CASE r.p.status_type WHEN 'added_photos' THEN 'photo' WHEN 'added_video' THEN 'video'
                WHEN 'mobile_status_update' THEN 'text' WHEN 'shared_story' THEN 'link' ELSE 'other' END
               AS content_type,
           r.p.message AS words, r.p.permalink_url AS permalink, NULL::VARCHAR[] AS tags,
           r.p.reactions.summary.total_count AS likes, r.p.comments.summary.total_count AS comments,
           r.p.shares.count AS shares, NULL::BIGINT AS quotes, NULL::BIGINT AS saves,
           NULL::BIGINT AS views, NULL::BIGINT AS exposures, NULL::BIGINT AS duration_seconds
    FROM docs d, unnest(from_json(d.body, '{"data": [{"id": "VARCHAR", "created_time": "VARCHAR",
        "message": "VARCHAR", "permalink_url": "VARCHAR", "status_type": "VARCHAR",
        "shares": {"count": "BIGINT"}, "reactions": {"summary": {"total_count": "BIGINT"}},
        "comments": {"summary": {"total_count": "BIGINT"}}}]}').data) WITH ORDINALITY AS r(p, ordinality)
    WHERE d.platform = 'facebook' AND d.endpoint = 'posts'
), instagram AS (
    SELECT d.doc_order, r.ordinality, r.p.id, CAST(r.p.timestamp AS TIMESTAMPTZ),
           CASE WHEN r.p.media_product_type = 'REELS' THEN 'video' ELSE
               CASE r.p.media_type WHEN 'IMAGE' THEN 'photo' WHEN 'VIDEO' THEN 'video'
                    WHEN 'CAROUSEL_ALBUM' THEN 'album' ELSE 'other' END END,
           r.p.caption, r.p.permalink, NULL::VARCHAR[], r.p.like_count, r.p.comments_count,
           NULL, NULL, NULL, NULL, NULL, NULL
    FROM docs d, unnest(from_json(d.body, '{"data": [{"id": "VARCHAR", "timestamp": "VARCHAR",
        "caption": "VARCHAR", "media_type": "VARCHAR", "media_product_type": "VARCHAR",
        "permalink": "VARCHAR", "like_count": "BIGINT", "comments_count": "BIGINT"}]}').data)
        WITH ORDINALITY AS r(p, ordinality)
    WHERE d.platform = 'instagram' AND d.endpoint = 'media'
), x_documents AS (
    SELECT d.doc_order, from_json(d.body, '{"data": [{"id": "VARCHAR", "text": "VARCHAR",
        "created_at": "VARCHAR", "public_metrics": {"retweet_count": "BIGINT", "reply_count": "BIGINT",
        "like_count": "BIGINT", "quote_count": "BIGINT", "bookmark_count": "BIGINT",
        "impression_count": "BIGINT"}, "entities": {"hashtags": [{"tag": "VARCHAR"}]},
        "attachments": {"media_keys": ["VARCHAR"]}}],
        "includes": {"media": [{"media_key": "VARCHAR", "type": "VARCHAR",
        "public_metrics": {"view_count": "BIGINT"}}]}}') AS j
    FROM docs d WHERE d.platform = 'x' AND d.endpoint = 'tweets'
), x_tweets AS (
    SELECT xd.doc_order, r.ordinality, r.t AS t, xd.j.includes.media AS media
    FROM x_documents xd, unnest(xd.j.data) WITH ORDINALITY AS r(t, ordinality)
), x_attached AS (
    SELECT doc_order, ordinality, key_order,
           CASE m.type WHEN 'photo' THEN 'photo' WHEN 'video' THEN 'video' WHEN 'animated_gif' THEN 'video'
                ELSE 'other' END AS kind, m.type, m.public_metrics.view_count AS view_count
    FROM (SELECT doc_order, ordinality, media, k.key, k.key_order
          FROM x_tweets, unnest(t.attachments.media_keys) WITH ORDINALITY AS k(key, key_order)) a,
         LATERAL (SELECT last(m ORDER BY i) AS m
                  FROM unnest(a.media) WITH ORDINALITY AS u(m, i) WHERE m.media_key = a.key) found
    WHERE found.m IS NOT NULL
), x_media AS (
    SELECT doc_order, ordinality,
           CASE WHEN bool_or(kind = 'video') THEN 'video' ELSE first(kind ORDER BY key_order) END AS content_type,
           sum(view_count) FILTER (WHERE type = 'video') AS views
    FROM x_attached GROUP BY ALL
), x AS (
    SELECT xt.doc_order, xt.ordinality, xt.t.id, CAST(xt.t.created_at AS TIMESTAMPTZ),
           coalesce(m.content_type, 'text'), xt.t.text,
           'https://x.com/i/web/status/' || xt.t.id,
           coalesce(list_filter([h.tag FOR h IN xt.t.entities.hashtags], lambda tag: tag <> ''), []),
           xt.t.public_metrics.like_count, xt.t.public_metrics.reply_count, xt.t.public_metrics.retweet_count,
           xt.t.public_metrics.quote_count, xt.t.public_metrics.bookmark_count, m.views,
           xt.t.public_metrics.impression_count, NULL
    FROM x_tweets xt LEFT JOIN x_media m USING (doc_order, ordinality)
), youtube AS (
    SELECT d.doc_order, r.ordinality, r.v.id, CAST(r.v.snippet.publishedAt AS TIMESTAMPTZ), 'video',
           concat_ws(' ', r.v.snippet.title, r.v.snippet.description),
           'https://www.youtube.com/watch?v=' || r.v.id, NULL::VARCHAR[],
           CAST(r.v.statistics.likeCount AS BIGINT), CAST(r.v.statistics.commentCount AS BIGINT),
           NULL, NULL, NULL, CAST(r.v.statistics.viewCount AS BIGINT), NULL,
           ((coalesce(TRY_CAST(regexp_extract(r.v.contentDetails.duration, '([0-9]+)D', 1) AS BIGINT), 0) * 24
             + coalesce(TRY_CAST(regexp_extract(r.v.contentDetails.duration, '([0-9]+)H', 1) AS BIGINT), 0)) * 60
             + coalesce(TRY_CAST(regexp_extract(r.v.contentDetails.duration, '([0-9]+)M', 1) AS BIGINT), 0)) * 60
             + coalesce(TRY_CAST(regexp_extract(r.v.contentDetails.duration, '([0-9]+)S', 1) AS BIGINT), 0)
    FROM docs d, unnest(from_json(d.body, '{"items": [{"id": "VARCHAR", "snippet": {"publishedAt": "VARCHAR",
        "title": "VARCHAR", "description": "VARCHAR"}, "contentDetails": {"duration": "VARCHAR"},
        "statistics": {"viewCount": "VARCHAR", "likeCount": "VARCHAR", "commentCount": "VARCHAR"}}]}').items)
        WITH ORDINALITY AS r(v, ordinality)
    WHERE d.platform = 'youtube' AND d.endpoint = 'videos'
)
SELECT * FROM facebook UNION ALL SELECT * FROM instagram UNION ALL SELECT * FROM x
UNION ALL SELECT * FROM youtube;

CREATE TEMP TABLE insight_rows AS
WITH entries AS (
    SELECT d.doc_order, d.platform, d.account_handle, d.sha256, e.ordinality, e.entry.key AS post_id,
           e.entry.value.insights.data AS metrics
    FROM docs d, unnest(map_entries(from_json(d.body, $insights_type)))
        WITH ORDINALITY AS e(entry, ordinality)
    WHERE d.endpoint IN ('post_insights', 'media_insights')
), named AS (
    SELECT entries.* EXCLUDE (metrics),
           map_from_entries([{'k': m.name, 'v': coalesce(m.total_value.value, m."values"[-1].value)}
                             FOR m IN metrics]) AS value_of
    FROM entries
)
SELECT doc_order, ordinality, platform, account_handle, post_id, sha256 AS insights_sha256,
       CASE platform WHEN 'facebook' THEN coalesce(value_of['post_media_view'], value_of['post_impressions'])
            ELSE coalesce(value_of['views'], value_of['impressions']) END AS exposures,
       CASE platform WHEN 'facebook' THEN value_of['post_impressions_unique'] ELSE value_of['reach'] END AS reach,
       CASE platform WHEN 'instagram' THEN coalesce(value_of['views'], value_of['plays']) END AS views,
       CASE platform WHEN 'instagram' THEN value_of['saved'] END AS saves
FROM named;

CREATE TABLE floor_posts AS
WITH posts AS (
    SELECT d.platform, d.account_handle, d.page, d.sha256, d.pull_id, d.fetched_at, p.*,
           row_number() OVER (PARTITION BY d.platform, d.account_handle, p.post_id
                              ORDER BY p.doc_order DESC, p.record_order DESC) AS copy_from_last
    FROM post_rows p JOIN docs d USING (doc_order)
), latest_insights AS (
    SELECT * FROM insight_rows
    QUALIFY row_number() OVER (PARTITION BY platform, account_handle, post_id
                               ORDER BY doc_order DESC, ordinality DESC) = 1
), cleaned AS (
    SELECT p.platform, a.city_id, p.account_handle, a.platform_account_id, p.post_id, p.published_at_utc,
           CAST(timezone('UTC', p.published_at_utc) + INTERVAL 8 HOUR AS TIMESTAMP) AS published_at_beijing,
           p.content_type, substring(p.words, 1, 280) AS text_excerpt, p.permalink,
           coalesce(p.tags, regexp_extract_all(coalesce(p.words, ''), '#([\p{L}\p{N}_]+)', 1)) AS hashtags,
           p.likes, p.comments, p.shares, p.quotes, coalesce(i.saves, p.saves) AS saves,
           coalesce(i.views, p.views) AS views, coalesce(i.exposures, p.exposures) AS exposures,
           i.reach, p.duration_seconds, p.sha256 AS source_sha256, i.insights_sha256, p.pull_id,
           p.fetched_at, p.doc_order, p.record_order
    FROM posts p
    LEFT JOIN latest_insights i USING (platform, account_handle, post_id)
    LEFT JOIN accounts a USING (platform, account_handle)
    WHERE p.copy_from_last = 1 AND p.published_at_utc >= $start AND p.published_at_utc < $end
)
SELECT cleaned.* EXCLUDE (doc_order, record_order),
       CASE platform
           WHEN 'facebook' THEN coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0)
           WHEN 'x' THEN coalesce(likes, 0) + coalesce(comments, 0) + coalesce(shares, 0) + coalesce(quotes, 0)
           WHEN 'instagram' THEN coalesce(likes, 0) + coalesce(comments, 0) + coalesce(saves, 0)
           ELSE coalesce(likes, 0) + coalesce(comments, 0) END AS interactions,
       CASE platform
           WHEN 'facebook' THEN likes IS NOT NULL AND comments IS NOT NULL AND shares IS NOT NULL
           WHEN 'x' THEN likes IS NOT NULL AND comments IS NOT NULL AND shares IS NOT NULL AND quotes IS NOT NULL
           WHEN 'instagram' THEN likes IS NOT NULL AND comments IS NOT NULL AND saves IS NOT NULL
           ELSE likes IS NOT NULL AND comments IS NOT NULL END AS interactions_complete
FROM cleaned ORDER BY doc_order, record_order;

CREATE TABLE floor_account_metrics AS
WITH profiles AS (
    SELECT d.platform, d.account_handle, d.sha256 AS profile_sha256, d.pull_id,
           CASE d.platform
               WHEN 'x' THEN CAST(json_extract(d.body, '$.data.public_metrics.followers_count') AS BIGINT)
               WHEN 'youtube' THEN CASE WHEN NOT coalesce(CAST(json_extract(d.body,
                       '$.items[#-1].statistics.hiddenSubscriberCount') AS BOOLEAN), false)
                   THEN CAST(json_extract_string(d.body, '$.items[#-1].statistics.subscriberCount') AS BIGINT) END
               ELSE CAST(json_extract(d.body, '$.followers_count') AS BIGINT) END AS followers
    FROM docs d
    WHERE (d.platform, d.endpoint) IN (('facebook', 'page'), ('instagram', 'user'), ('x', 'user'),
                                       ('youtube', 'channel'))
    QUALIFY row_number() OVER (PARTITION BY d.platform, d.account_handle ORDER BY d.doc_order DESC) = 1
), per_post AS (
    SELECT platform, account_handle, count(*) AS posts,
           count(DISTINCT CAST(published_at_beijing AS DATE)) AS active_days,
           count(*) FILTER (WHERE content_type = 'video') AS video_posts, sum(interactions) AS interactions,
           sum(views) AS views, avg(views) FILTER (WHERE content_type = 'video') AS views_per_video,
           sum(exposures) AS exposures, first(pull_id) AS post_pull_id
    FROM floor_posts GROUP BY ALL
), previous AS (
    SELECT platform, account_handle, followers AS followers_previous
    FROM lake.clean.account_metrics WHERE month = $previous
)
SELECT a.platform, a.city_id, a.account_handle, a.platform_account_id, pr.followers, pv.followers_previous,
       pr.followers - pv.followers_previous AS follower_growth, coalesce(pp.posts, 0) AS posts,
       coalesce(pp.active_days, 0) AS active_days, coalesce(pp.video_posts, 0) AS video_posts,
       coalesce(pp.interactions, 0) AS interactions,
       CASE WHEN pp.posts > 0 THEN pp.interactions / pp.posts END AS interactions_per_post,
       pp.views, pp.views_per_video, pp.exposures, pr.profile_sha256,
       coalesce(pr.pull_id, pp.post_pull_id) AS pull_id
FROM accounts a
LEFT JOIN profiles pr USING (platform, account_handle)
LEFT JOIN per_post pp USING (platform, account_handle)
LEFT JOIN previous pv USING (platform, account_handle)
WHERE a.active AND (pr.profile_sha256 IS NOT NULL OR pp.posts IS NOT NULL)
ORDER BY a.platform, a.account_handle;
"""
"""The floor's statements, run in order in a scratch database with the warehouse attached read-only
as `lake` and the month's latest complete pulls in `latest_pulls`."""


INSIGHTS_TYPE = json.dumps(
    'MAP(VARCHAR, STRUCT(insights STRUCT(data STRUCT(name VARCHAR, "values" STRUCT(value BIGINT)[], '
    "total_value STRUCT(value BIGINT))[])))"
)
"""The Graph API's multi-id insights lookup as a DuckDB type (`from_json` takes a type as a JSON string)."""


def extract_and_write_floor(warehouse_path: Path, month: Month) -> dict[str, Any]:
    """Time the floor on the month's stored documents and compare its tables with the pipeline's
    `clean.posts` and `clean.account_metrics` of the month: `seconds`, and `differing_rows` per
    table (rows in one and not the other, both ways; 0 when the floor did the same job)."""
    from cityindex_pipeline.core.platforms import PLATFORMS
    from cityindex_pipeline.warehouse.store import Warehouse

    store = Warehouse(warehouse_path)
    with store.session():
        pulls = [store.latest_pull(month, platform) for platform in PLATFORMS]
    pull_ids = [str(pull["pull_id"]) for pull in pulls if pull is not None]
    params = {
        "insights_type": INSIGHTS_TYPE,
        "month": month.first_day,
        "previous": month.previous().first_day,
        "start": month.start_utc,
        "end": month.end_utc,
    }
    with tempfile.TemporaryDirectory() as scratch:
        con = duckdb.connect(str(Path(scratch) / "floor.duckdb"))
        try:
            con.execute(f"ATTACH '{warehouse_path}' AS lake (READ_ONLY)")
            con.execute(
                "CREATE TEMP TABLE latest_pulls AS SELECT unnest($ids::VARCHAR[]) AS pull_id",
                {"ids": pull_ids},
            )
            start = time.perf_counter()
            for statement in _statements(POSTS_SQL):
                con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
            seconds = time.perf_counter() - start
            differing = {
                "clean.posts": _differing_rows(con, "floor_posts", "lake.clean.posts", month),
                "clean.account_metrics": _differing_rows(
                    con, "floor_account_metrics", "lake.clean.account_metrics", month
                ),
            }
            rows = {
                table: con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
                for table, name in (
                    ("clean.posts", "floor_posts"),
                    ("clean.account_metrics", "floor_account_metrics"),
                )
            }
        finally:
            con.close()
    return {"seconds": seconds, "differing_rows": differing, "rows": rows}


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";\n") if statement.strip()]


def _differing_rows(con: duckdb.DuckDBPyConnection, floor: str, ours: str, month: Month) -> int:
    """Rows of the floor's table missing from the pipeline's month, and the reverse, by the floor's
    columns (the pipeline's also carry `month` and `run_id`)."""
    columns = ", ".join(f'"{name}"' for name in con.sql(f"SELECT * FROM {floor} LIMIT 0").columns)
    ours_month = f"SELECT {columns} FROM {ours} WHERE month = $month"
    (count,) = con.execute(
        f"SELECT (SELECT count(*) FROM (SELECT {columns} FROM {floor} EXCEPT ALL {ours_month}))"
        f" + (SELECT count(*) FROM ({ours_month} EXCEPT ALL SELECT {columns} FROM {floor}))",
        {"month": month.first_day},
    ).fetchall()[0]
    return int(count)
