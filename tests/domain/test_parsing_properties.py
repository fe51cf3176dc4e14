"""Property-based tests: parsers accept any well-shaped document and fail only with typed, clear errors."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityindex_pipeline.parsing import PARSERS, DocumentError, parse_document

counts = st.integers(min_value=0, max_value=2**53)
maybe_count = st.none() | counts
moments = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
text = st.text(max_size=300)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def without_nones(record: dict) -> dict:
    """Absent fields are left out, as the APIs do."""
    return {key: value for key, value in record.items() if value is not None}


@st.composite
def facebook_posts(draw):
    posts = []
    for index in range(draw(st.integers(0, 5))):
        shares = draw(maybe_count)
        post = {
            "id": f"104_{index}",
            "created_time": draw(moments).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "message": draw(st.none() | text),
            "status_type": draw(
                st.sampled_from(
                    ["added_photos", "added_video", "mobile_status_update", "shared_story", "new_kind"]
                )
            ),
            "shares": None if shares is None else {"count": shares},
            "reactions": {"data": [], "summary": {"total_count": draw(counts)}},
            "comments": {"data": [], "summary": {"total_count": draw(counts)}},
        }
        posts.append(without_nones(post))
    return {"data": posts, "paging": {"cursors": {"before": "a", "after": "b"}}}


@st.composite
def youtube_videos(draw):
    items = []
    for index in range(draw(st.integers(0, 5))):
        stats = {
            name: draw(st.none() | counts.map(str)) for name in ("viewCount", "likeCount", "commentCount")
        }
        moment = draw(moments)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S") + draw(st.sampled_from(["Z", ".000Z", ".123Z"]))
        items.append(
            {
                "id": f"v{index}",
                "snippet": {"publishedAt": stamp, "title": draw(text)},
                "contentDetails": {
                    "duration": draw(st.sampled_from(["PT45S", "PT4M13S", "PT1H4M", "P1DT2H"]))
                },
                "statistics": without_nones(stats),
            }
        )
    return {"kind": "youtube#videoListResponse", "items": items}


@st.composite
def x_tweets(draw):
    tweets = []
    for index in range(draw(st.integers(0, 5))):
        metrics = {
            name: draw(maybe_count)
            for name in ("like_count", "reply_count", "retweet_count", "quote_count", "impression_count")
        }
        tweets.append(
            {
                "id": str(1800 + index),
                "text": draw(text),
                "created_at": draw(moments).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "public_metrics": without_nones(metrics),
            }
        )
    return (
        {"data": tweets, "meta": {"result_count": len(tweets)}} if tweets else {"meta": {"result_count": 0}}
    )


@given(facebook_posts())
def test_any_well_shaped_facebook_page_parses_without_rejection(payload):
    parsed = parse_document("facebook", "posts", json.dumps(payload))
    assert parsed.rejected == [] and len(parsed.rows) == len(payload["data"])
    for row, post in zip(parsed.rows, payload["data"], strict=True):
        assert row["shares"] == (post["shares"]["count"] if "shares" in post else None)
        assert row["likes"] == post["reactions"]["summary"]["total_count"]


@given(youtube_videos())
def test_any_well_shaped_youtube_page_parses_and_keeps_withheld_counts_null(payload):
    parsed = parse_document("youtube", "videos", json.dumps(payload))
    assert parsed.rejected == []
    for row, item in zip(parsed.rows, payload["items"], strict=True):
        stats = item["statistics"]
        assert row["likes"] == (int(stats["likeCount"]) if "likeCount" in stats else None)
        assert row["views"] == (int(stats["viewCount"]) if "viewCount" in stats else None)


@given(x_tweets())
def test_any_well_shaped_x_page_parses(payload):
    parsed = parse_document("x", "tweets", json.dumps(payload))
    assert parsed.rejected == [] and len(parsed.rows) == len(payload.get("data", []))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(st.sampled_from(sorted(PARSERS)), json_values)
def test_any_json_is_parsed_or_refused_with_a_typed_error(endpoint, payload):
    platform, name = endpoint
    try:
        parsed = parse_document(platform, name, json.dumps(payload))
    except DocumentError as error:
        assert str(error), "the error says what is wrong"
    else:
        for rejection in parsed.rejected:
            assert rejection.reason


@settings(max_examples=60)
@given(st.sampled_from(sorted(PARSERS)), st.text(max_size=200))
def test_any_text_is_parsed_or_refused_with_a_typed_error(endpoint, body):
    platform, name = endpoint
    with contextlib.suppress(DocumentError):
        parse_document(platform, name, body)


@given(facebook_posts(), st.sampled_from(["reactions", "comments"]), json_values)
def test_a_malformed_count_rejects_the_record_naming_the_field(payload, edge, bad):
    if (
        not payload["data"]
        or (isinstance(bad, int) and not isinstance(bad, bool) and 0 <= bad <= 2**53)
        or bad is None
    ):
        return
    payload["data"][0][edge] = {"summary": {"total_count": bad}}
    parsed = parse_document("facebook", "posts", json.dumps(payload))
    assert len(parsed.rows) == len(payload["data"]) - 1
    (rejection,) = parsed.rejected
    assert rejection.record_id == payload["data"][0]["id"] and edge in rejection.reason
