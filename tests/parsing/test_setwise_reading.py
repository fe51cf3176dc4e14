"""The set-wise reading of documents gives what the per-record parsers give: the same rows, the same
rejections with the same reasons, whether a document is read by DuckDB or handed to the parsers."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from support.accounts import sample
from support.documents import facebook_posts, json_values, x_tweets, youtube_videos
from support.reading_helpers import assert_same_reading, frame_of

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.parsing.setwise import POST_READERS, _connection, _read_posts, read_documents


def test_a_simulated_month_reads_the_same():
    for platform in PLATFORMS:
        documents = sample(platform, Month(2024, 9))
        assert_same_reading(platform, frame_of(platform, [(d.endpoint, d.body) for d in documents]))


def test_a_month_read_in_small_batches_reads_the_same_in_the_same_order():
    for platform in PLATFORMS:
        documents = sample(platform, Month(2024, 9))
        frame = frame_of(platform, [(d.endpoint, d.body) for d in documents])
        whole, batched = (
            read_documents(platform, frame),
            read_documents(platform, frame, documents_per_batch=7),
        )
        for part in ("posts", "insights", "profiles", "rejected"):
            assert_frame_equal(getattr(batched, part), getattr(whole, part))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=40, deadline=None)
@given(
    facebook_posts(),
    st.sampled_from(["reactions", "shares", "message", "created_time", "id", "status_type"]),
    json_values,
)
def test_any_facebook_page_with_any_value_in_a_field_reads_the_same(payload, field, value):
    if payload["data"]:
        payload["data"][0][field] = {"summary": {"total_count": value}} if field == "reactions" else value
    assert_same_reading(
        "facebook", frame_of("facebook", [("posts", json.dumps(payload, ensure_ascii=False))])
    )


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=40, deadline=None)
@given(youtube_videos(), st.sampled_from(["statistics", "snippet", "contentDetails", "id"]), json_values)
def test_any_youtube_page_with_any_value_in_a_field_reads_the_same(payload, field, value):
    if payload["items"]:
        payload["items"][0][field] = value
    assert_same_reading("youtube", frame_of("youtube", [("videos", json.dumps(payload))]))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=40, deadline=None)
@given(x_tweets(), json_values)
def test_any_x_page_with_any_metrics_reads_the_same(payload, value):
    for tweet in payload.get("data", [])[:1]:
        tweet["public_metrics"] = value
    assert_same_reading("x", frame_of("x", [("tweets", json.dumps(payload))]))


def test_bodies_python_refuses_or_reads_differently_go_to_the_parsers():
    post = {"id": "1_1", "created_time": "2024-09-02T00:00:00+0000", "message": "#北京 ok #Tag"}
    bodies = [
        json.dumps({"data": [post]}),  # a hashtag of non-ASCII word characters
        json.dumps({"data": [post]})[:-1] + ",}",  # a trailing comma
        '{"data": [{"id": "1_2", "created_time": "2024-09-02T00:00:00+0000", "shares": {"count": 1.5}}]}',
        '{"data": [{"id": "1_3", "created_time": "2024-09-31T00:00:00+0000"}]}',
        '{"data": [{"id": "1_4", "created_time": "2024-09-02T00:00:00+0000", "shares": 5}]}',
        '{"data": [{"id": "1_5", "created_time": "2024-09-02T00:00:00+0000", "message": "a\\nb \\u00e9 #x"}]}',
        "<html>502</html>",
        '{"error": {"code": 4, "message": "rate"}}',
    ]
    assert_same_reading("facebook", frame_of("facebook", [("posts", body) for body in bodies]))


def test_texts_give_the_parsers_excerpts_and_hashtags():
    texts = [
        "#a#b ##c #_ #tag, #9 end#x",
        "é#tag #tagé #北京 #ok\u0301 #fine",
        "🙂" * 150 + "e\u0301" * 100 + " #late",
        "",
        "no tags at all",
    ]
    posts = [
        {"id": f"1_{i}", "created_time": "2024-09-02T00:00:00+0000", "message": text}
        for i, text in enumerate(texts)
    ]
    documents = frame_of("facebook", [("posts", json.dumps({"data": posts}, ensure_ascii=False))])
    with _connection() as con:
        _, left_to_parsers = _read_posts(con, POST_READERS["facebook"], documents.select("doc_index", "body"))
    assert left_to_parsers == []  # read set-wise, not by the parsers
    assert_same_reading("facebook", documents)
    read = read_documents("facebook", documents).posts
    assert read["hashtags"][0].to_list() == ["a", "b", "c", "_", "tag", "9", "x"]
    assert read["text_excerpt"][2] == texts[2][:280]
