"""Hypothesis strategies for well-shaped platform documents and for any JSON value."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

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
