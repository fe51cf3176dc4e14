"""The raw.* and clean.* tables: what was pulled from the platforms, and what was read from it."""

from __future__ import annotations

from cityindex_pipeline.warehouse.columns import (
    ACCOUNT_HANDLE,
    BIGINT,
    BLOB,
    BOOLEAN,
    CITY_ID,
    DATE,
    DOUBLE,
    INTEGER,
    MONTH,
    NAME_EN,
    NAME_ZH,
    PLATFORM,
    PLATFORM_ACCOUNT_ID,
    PULL_ID,
    REGISTRY_VERSION,
    RUN_ID,
    SOURCE_SHA256,
    TIMESTAMP,
    TIMESTAMPTZ,
    VARCHAR,
    VARCHAR_LIST,
    Table,
)

WITHHELD = "null when the platform withheld it or does not give it, never 0"

# fmt: off
SOURCE_TABLES: dict[str, Table] = {
    "raw.pulls": Table(
        VARCHAR("pull_id", key=True, doc="id of the pull: <platform>-<YYYY-MM>-<12 hex digits>"),
        DATE("month", doc=MONTH),
        VARCHAR("platform", doc=PLATFORM),
        VARCHAR("source", doc="where the documents came from: simulated, files (a landing folder) or api"),
        VARCHAR("run_id", doc="id of the Dagster run that started the pull (a resumed pull keeps it)"),
        TIMESTAMPTZ("started_at", doc="when the pull started, UTC"),
        TIMESTAMPTZ("completed_at", null=True, doc="when every account was stored, UTC; null while in_progress"),
        VARCHAR("status", doc="in_progress until every account is stored, then complete; "
                "downstream reads the newest complete pull"),
        INTEGER("accounts", doc="active accounts of the platform the pull set out to fetch"),
        INTEGER("documents", null=True, doc="documents stored by the pull, over every run that resumed it; "
                "null while in_progress"),
        INTEGER("problems", null=True, doc="source problems recorded by the pull (raw.source_problems); "
                "null while in_progress"),
    ),
    "raw.pull_accounts": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID),
        VARCHAR("pull_id", doc="the pull that stored the account (raw.pulls)"),
        VARCHAR("platform", doc=PLATFORM), VARCHAR("account_handle", doc=ACCOUNT_HANDLE),
        INTEGER("documents", doc="documents stored for the account by the pull"),
        INTEGER("problems", doc="source problems recorded for the account by the pull"),
        TIMESTAMPTZ("stored_at", doc="when the account's documents were stored, UTC: a resumed pull skips it"),
    ),
    "raw.source_problems": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID),
        VARCHAR("pull_id", doc="the pull that met the problem (raw.pulls)"), VARCHAR("platform", doc=PLATFORM),
        VARCHAR("account_handle", null=True, doc=f"{ACCOUNT_HANDLE}; null when the problem belongs to no account"),
        VARCHAR("location", doc="where the source met it: the landing file (landing://...) or the request"),
        VARCHAR("reason", doc="why the source could not use it (unknown endpoint, not UTF-8, an error body...)"),
        VARCHAR("sha256", doc="sha256 of the content's bytes"),
        BLOB("content", doc="the file's or response's bytes as received, kept whole"),
    ),
    "raw.documents": Table(
        DATE("month", doc=MONTH), VARCHAR("platform", doc=PLATFORM),
        VARCHAR("account_handle", doc=ACCOUNT_HANDLE),
        VARCHAR("endpoint", doc="the API endpoint the body answers: facebook page, posts, post_insights; "
                "instagram user, media, media_insights; x user, tweets; youtube channel, playlist_items, videos"),
        INTEGER("page", doc="page of the endpoint's answer for the account, from 1"),
        VARCHAR("body", doc="the response body exactly as received (verbatim JSON text)"),
        VARCHAR("sha256", doc="sha256 (hex) of the body's UTF-8 bytes: the document's address in the archive"),
        VARCHAR("pull_id", doc="the pull that stored the document (raw.pulls)"),
        TIMESTAMPTZ("fetched_at", doc="when the body was received, UTC (a landing file: its modification time)"),
        VARCHAR("request_url", doc="the URL requested, secrets removed; landing://<path> for a landing file"),
        VARCHAR("source", doc="where the document came from: simulated, files or api"),
        VARCHAR("run_id", doc=RUN_ID),
        VARCHAR("unusable_reason", null=True, doc="why the body is not a usable document (not strict JSON, an "
                "API error body...), judged when stored; null when usable"),
        VARCHAR("reading_rules", null=True, doc="version of the reading rules that judged the body; null in "
                "documents stored before verdicts were kept"),
        VARCHAR("judged_sha256", null=True, doc="sha256 of the body the verdict was taken on; null in "
                "documents stored before verdicts were kept"),
    ),
    "clean.registry_cities": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID),
        VARCHAR("registry_version", doc=REGISTRY_VERSION), VARCHAR("city_id", doc=CITY_ID),
        VARCHAR("name_en", doc=NAME_EN), VARCHAR("name_zh", doc=NAME_ZH),
        VARCHAR("province_en", doc="the city's province in English, from the registry"),
        VARCHAR("province_zh", doc="the city's province in Chinese, from the registry"),
        VARCHAR("tier", doc="administrative tier: municipality, sub-provincial, provincial-capital or prefecture"),
        DOUBLE("longitude", doc="approximate longitude of the city, decimal degrees east"),
        DOUBLE("latitude", doc="approximate latitude of the city, decimal degrees north"),
    ),
    "clean.registry_accounts": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID),
        VARCHAR("registry_version", doc=REGISTRY_VERSION), VARCHAR("city_id", doc=CITY_ID),
        VARCHAR("platform", doc=PLATFORM), VARCHAR("account_handle", doc=ACCOUNT_HANDLE),
        VARCHAR("platform_account_id", doc=PLATFORM_ACCOUNT_ID),
        VARCHAR("display_name", doc="the account's display name, from the registry"),
        DATE("started_on", doc="the day the account started, from the registry: it counts from that month"),
        VARCHAR("provenance", doc="invented (not checked against the platform) or verified, from the registry"),
        BOOLEAN("active", doc="whether the account counts this month: started, and its city and platform "
                "covered by the methodology"),
    ),
    "clean.posts": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("platform", doc=PLATFORM),
        VARCHAR("city_id", doc=CITY_ID), VARCHAR("account_handle", doc=ACCOUNT_HANDLE),
        VARCHAR("platform_account_id", doc=PLATFORM_ACCOUNT_ID),
        VARCHAR("post_id", doc="the platform's id of the post (tweet, medium or video id)"),
        TIMESTAMPTZ("published_at_utc", doc="when the post was published, UTC"),
        TIMESTAMP("published_at_beijing", doc="when the post was published, Beijing time (UTC+8): it decides "
                  "the month and the active day"),
        VARCHAR("content_type", doc="text, photo, video, album, link or other, mapped from the platform's type"),
        VARCHAR("text_excerpt", null=True, doc="the first 280 characters of the post's text (YouTube: title "
                "and description); null when it has no text"),
        VARCHAR("permalink", null=True, doc="the post's public address; null when the platform gave none"),
        VARCHAR_LIST("hashtags", null=True, doc="the hashtags of the post's text, without '#' (X: its "
                     "entities)"),
        BIGINT("likes", null=True, doc=f"likes (Facebook: reactions) when pulled; {WITHHELD} (hidden likes)"),
        BIGINT("comments", null=True, doc=f"comments (X: replies) when pulled; {WITHHELD} (comments off)"),
        BIGINT("shares", null=True, doc=f"shares (X: reposts) when pulled; {WITHHELD} (a Facebook post never "
               "shared)"),
        BIGINT("quotes", null=True, doc=f"quote posts (X only) when pulled; {WITHHELD}"),
        BIGINT("saves", null=True, doc=f"saves (Instagram insights) or bookmarks (X) when pulled; {WITHHELD}"),
        BIGINT("views", null=True, doc=f"plays: YouTube viewCount, X video view_count, Instagram video views; "
               f"{WITHHELD}"),
        BIGINT("exposures", null=True, doc="impressions: Facebook post_impressions or post_media_view, Instagram "
               f"impressions or views, X impression_count; {WITHHELD}"),
        BIGINT("reach", null=True, doc=f"unique accounts reached (Facebook, Instagram insights); {WITHHELD}"),
        BIGINT("duration_seconds", null=True, doc="a YouTube video's length in seconds; null elsewhere"),
        BIGINT("interactions", doc="sum of the platform's interaction parts the post reports (methodology "
               "§2), unweighted; a withheld part adds nothing"),
        BOOLEAN("interactions_complete", doc="false when a part of interactions was withheld (null)"),
        VARCHAR("source_sha256", doc="sha256 of the posts document the post was read from (raw.documents)"),
        VARCHAR("insights_sha256", null=True, doc="sha256 of the insights document whose figures were used; "
                "null when none (X, YouTube, or no insights for the post)"),
        VARCHAR("pull_id", doc=PULL_ID),
        TIMESTAMPTZ("fetched_at", doc="when the post's document was received, UTC: the counts are as of then"),
    ),
    "clean.account_metrics": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("platform", doc=PLATFORM),
        VARCHAR("city_id", doc=CITY_ID), VARCHAR("account_handle", doc=ACCOUNT_HANDLE),
        VARCHAR("platform_account_id", doc=PLATFORM_ACCOUNT_ID),
        BIGINT("followers", null=True, doc="followers (YouTube: subscribers) from the month's profile "
               "document; null when the platform withheld the figure or no profile was pulled"),
        BIGINT("followers_previous", null=True, doc="followers at the end of the previous month, from that "
               "month's account metrics; null in the first month of coverage, when the account had no row "
               "then, or when the platform withheld the figure"),
        BIGINT("follower_growth", null=True, doc="followers − followers_previous; null when either is null"),
        BIGINT("posts", doc="posts published in the month (Beijing time)"),
        BIGINT("active_days", doc="distinct Beijing-time dates with a post"),
        BIGINT("video_posts", doc="posts that are videos"),
        BIGINT("interactions", doc="sum of the posts' interactions (clean.posts), unweighted"),
        DOUBLE("interactions_per_post", null=True, doc="interactions / posts, the release's \"interaction "
               "rate\"; null with no post"),
        BIGINT("views", null=True, doc="sum of the posts' plays; null when no post reports them"),
        DOUBLE("views_per_video", null=True, doc="mean plays per video post that reports them; null when "
               "none does"),
        BIGINT("exposures", null=True, doc="sum of the posts' impressions; null when no post reports them"),
        VARCHAR("profile_sha256", null=True, doc="sha256 of the profile document followers were read from; "
                "null when none was pulled"),
        VARCHAR("pull_id", doc=PULL_ID),
    ),
    "clean.quarantine": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("platform", doc=PLATFORM),
        VARCHAR("account_handle", doc=ACCOUNT_HANDLE),
        VARCHAR("endpoint", doc="the endpoint of the document the record came from"),
        VARCHAR("location", doc="request_url of that document (raw.documents)"),
        VARCHAR("source_sha256", doc=SOURCE_SHA256),
        VARCHAR("record_id", null=True, doc="id of the rejected record; null when the whole document was "
                "rejected or the record has no usable id"),
        VARCHAR("reason", doc="why it was rejected: unparseable, unknown account, duplicate across pages, "
                "published outside the month..."),
        VARCHAR("record", doc="the rejected record as JSON, or the start of a rejected document's body "
                "(at most 4,000 characters)"),
    ),
}
# fmt: on
