"""Each endpoint's parser on documents shaped like the platforms' own, quirks included."""

import json
from datetime import UTC, datetime

import pytest

from cityindex_pipeline.parsing import PARSERS, DocumentError, parse_document
from cityindex_pipeline.parsing.youtube import duration_seconds


def body(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False)


FACEBOOK_POSTS = {
    "data": [
        {
            "id": "104_1",
            "created_time": "2024-09-30T08:15:00+0000",
            "message": "Autumn in Nanjing #VisitNanjing #ChinaTravel",
            "permalink_url": "https://www.facebook.com/VisitNanjing/posts/1",
            "status_type": "added_photos",
            "shares": {"count": 12},
            "reactions": {"data": [], "summary": {"total_count": 100, "viewer_reaction": "NONE"}},
            "comments": {"data": [], "summary": {"order": "ranked", "total_count": 5, "can_comment": True}},
        },
        {
            "id": "104_2",
            "created_time": "2024-09-02T01:00:00+0000",
            "status_type": "added_video",
            "reactions": {"data": [], "summary": {"total_count": 7}},
            "comments": {"data": [], "summary": {"total_count": 0}},
        },
    ],
    "paging": {
        "cursors": {"before": "b", "after": "a"},
        "next": "https://graph.facebook.com/v21.0/104/published_posts?after=a",
    },
}


def test_facebook_posts_read_counts_and_keep_absent_shares_null():
    parsed = parse_document("facebook", "posts", body(FACEBOOK_POSTS))
    first, second = parsed.rows
    assert first["post_id"] == "104_1"
    assert first["published_at_utc"] == datetime(2024, 9, 30, 8, 15, tzinfo=UTC)
    assert (first["likes"], first["comments"], first["shares"]) == (100, 5, 12)
    assert first["hashtags"] == ["VisitNanjing", "ChinaTravel"]
    assert first["content_type"] == "photo"
    assert second["shares"] is None, "a never-shared post has no `shares`: absent, not zero"
    assert second["text_excerpt"] is None
    assert second["content_type"] == "video"
    assert parsed.rejected == []


def test_facebook_empty_page_with_next_is_a_page_not_an_error():
    parsed = parse_document(
        "facebook", "posts", body({"data": [], "paging": {"next": "https://x/y?after=c"}})
    )
    assert parsed.rows == [] and parsed.rejected == []


def test_facebook_insights_accept_the_retired_and_the_new_metric_name():
    old = {
        "104_1": {
            "insights": {
                "data": [
                    {"name": "post_impressions", "period": "lifetime", "values": [{"value": 1234}]},
                    {"name": "post_impressions_unique", "period": "lifetime", "values": [{"value": 900}]},
                ]
            },
            "id": "104_1",
        }
    }
    new = {
        "104_1": {
            "insights": {"data": [{"name": "post_media_view", "total_value": {"value": 1500}}]},
            "id": "104_1",
        }
    }
    assert parse_document("facebook", "post_insights", body(old)).rows[0] | {} == {
        "post_id": "104_1",
        "exposures": 1234,
        "reach": 900,
        "views": None,
        "saves": None,
    }
    assert parse_document("facebook", "post_insights", body(new)).rows[0]["exposures"] == 1500


def test_facebook_page_followers():
    parsed = parse_document(
        "facebook", "page", body({"id": "104", "followers_count": 12345, "fan_count": 12000})
    )
    assert parsed.rows == [{"platform_account_id": "104", "followers": 12345}]


def test_instagram_hidden_likes_stay_null_and_reels_are_video():
    media = {
        "data": [
            {
                "id": "1",
                "media_type": "VIDEO",
                "media_product_type": "REELS",
                "timestamp": "2024-09-03T10:00:00+0000",
                "comments_count": 4,
                "permalink": "https://www.instagram.com/reel/1/",
            },
            {
                "id": "2",
                "caption": "西湖 #Hangzhou",
                "media_type": "CAROUSEL_ALBUM",
                "media_product_type": "FEED",
                "timestamp": "2024-09-04T10:00:00+0000",
                "like_count": 50,
                "comments_count": 1,
            },
        ]
    }
    reel, album = parse_document("instagram", "media", body(media)).rows
    assert reel["likes"] is None and reel["comments"] == 4 and reel["content_type"] == "video"
    assert album["content_type"] == "album" and album["hashtags"] == ["Hangzhou"]


def test_instagram_insights_before_and_after_views_replaced_impressions_and_plays():
    before = {
        "1": {
            "insights": {
                "data": [
                    {"name": "impressions", "values": [{"value": 800}]},
                    {"name": "reach", "values": [{"value": 600}]},
                    {"name": "saved", "values": [{"value": 9}]},
                    {"name": "plays", "values": [{"value": 700}]},
                ]
            },
            "id": "1",
        }
    }
    after = {"1": {"insights": {"data": [{"name": "views", "values": [{"value": 950}]}]}, "id": "1"}}
    old = parse_document("instagram", "media_insights", body(before)).rows[0]
    new = parse_document("instagram", "media_insights", body(after)).rows[0]
    assert (old["exposures"], old["reach"], old["views"], old["saves"]) == (800, 600, 700, 9)
    assert (new["exposures"], new["views"]) == (950, 950)


def test_x_tweets_metrics_media_views_and_old_captures_without_impressions():
    tweets = {
        "data": [
            {
                "id": "18",
                "text": "Giant pandas #Chengdu",
                "created_at": "2024-09-30T02:00:00.000Z",
                "public_metrics": {
                    "retweet_count": 1,
                    "reply_count": 2,
                    "like_count": 3,
                    "quote_count": 4,
                    "bookmark_count": 5,
                },
                "entities": {"hashtags": [{"start": 13, "end": 21, "tag": "Chengdu"}]},
                "attachments": {"media_keys": ["7_1"]},
            }
        ],
        "includes": {
            "media": [{"media_key": "7_1", "type": "video", "public_metrics": {"view_count": 1234}}]
        },
        "meta": {"result_count": 1},
    }
    (row,) = parse_document("x", "tweets", body(tweets)).rows
    assert (row["likes"], row["comments"], row["shares"], row["quotes"], row["saves"]) == (3, 2, 1, 4, 5)
    assert row["exposures"] is None, "impression_count is absent in older captures"
    assert row["views"] == 1234 and row["content_type"] == "video"
    assert row["hashtags"] == ["Chengdu"]
    assert row["published_at_utc"] == datetime(2024, 9, 30, 2, tzinfo=UTC)


def test_x_empty_month_and_partial_errors():
    assert parse_document("x", "tweets", body({"meta": {"result_count": 0}})).rows == []
    partial = {
        "data": [
            {
                "id": "1",
                "text": "t",
                "created_at": "2024-09-01T00:00:00.000Z",
                "public_metrics": {"like_count": 1},
            }
        ],
        "errors": [{"title": "Not Found Error", "detail": "Could not find tweet"}],
    }
    parsed = parse_document("x", "tweets", body(partial))
    assert len(parsed.rows) == 1
    assert [r.reason for r in parsed.rejected] == ["partial error returned by X"]


def test_x_problem_body_is_a_document_error_not_an_empty_month():
    with pytest.raises(DocumentError, match="Unauthorized"):
        parse_document(
            "x", "tweets", body({"title": "Unauthorized", "status": 401, "detail": "Unauthorized"})
        )


def test_youtube_counts_are_strings_and_hidden_counts_stay_null():
    videos = {
        "items": [
            {
                "id": "abc",
                "snippet": {
                    "publishedAt": "2024-09-30T02:00:00.123Z",
                    "title": "Xi'an at night #XiAn",
                    "description": "",
                },
                "contentDetails": {"duration": "PT1H4M"},
                "statistics": {"viewCount": "1234", "favoriteCount": "0"},
            }
        ]
    }
    (video,) = parse_document("youtube", "videos", body(videos)).rows
    assert video["views"] == 1234 and video["likes"] is None and video["comments"] is None
    assert video["duration_seconds"] == 3840
    assert video["published_at_utc"].microsecond == 123000
    channel = {
        "items": [
            {"id": "UC1", "statistics": {"viewCount": "10", "hiddenSubscriberCount": True, "videoCount": "3"}}
        ]
    }
    assert parse_document("youtube", "channel", body(channel)).rows == [
        {"platform_account_id": "UC1", "followers": None}
    ]


def test_youtube_playlist_items_give_video_ids_and_times():
    items = {
        "items": [{"contentDetails": {"videoId": "v1", "videoPublishedAt": "2024-09-01T00:00:00Z"}}],
        "nextPageToken": "t",
    }
    assert parse_document("youtube", "playlist_items", body(items)).rows[0]["video_id"] == "v1"


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT45S", 45), ("PT4M13S", 253), ("PT1H4M", 3840), ("P1DT2H", 93600), ("P0D", 0)]
)
def test_iso_durations(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"data": [{"id": "1", "created_ti', "not valid JSON"),
        ("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "an HTML page"),
        (
            '{"error": {"message": "(#100) The value must be a valid insights metric", "code": 100}}',
            "an API error body: (#100) The value must be a valid insights metric (code 100)",
        ),
        ('{"items": []}', "not a posts document"),
    ],
)
def test_unusable_documents_raise_a_typed_error(bad, reason):
    with pytest.raises(DocumentError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_document("facebook", "posts", bad)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-3, "negative"),
        (1.5, "fraction"),
        ("12", "a string, not a count"),
        (10**20, "implausibly large"),
        (True, "boolean"),
    ],
)
def test_bad_counts_reject_the_record_with_a_reason(value, reason):
    post = dict(FACEBOOK_POSTS["data"][0], reactions={"summary": {"total_count": value}})
    parsed = parse_document("facebook", "posts", body({"data": [post, FACEBOOK_POSTS["data"][1]]}))
    assert len(parsed.rows) == 1, "the good record survives"
    (rejection,) = parsed.rejected
    assert reason in rejection.reason and rejection.record_id == "104_1"


def test_every_endpoint_has_a_parser():
    from cityindex_pipeline.sources.base import ENDPOINTS

    assert {(p, e) for p, endpoints in ENDPOINTS.items() for e in endpoints} == set(PARSERS)
