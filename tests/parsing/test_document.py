"""One reading of every document: a body is refused for the same reason by every reader, and an
unbounded value becomes a rejected record or a refused document with its reason, never an exception.

Each case is read by the per-record parsers and by the set-wise reader, and both are held to the
same rows, rejections and reasons (`assert_same_reading`)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from support.reading_helpers import assert_same_reading, frame_of

from cityindex_pipeline.parsing import DocumentError, parse_document
from cityindex_pipeline.parsing.document import (
    MAX_DEPTH,
    READING_RULES,
    read_json,
    unusable_reason,
    with_verdicts,
)
from cityindex_pipeline.parsing.setwise import read_documents

POST = {"id": "1_1", "created_time": "2024-09-02T00:00:00+0000", "message": "hello #Nanjing"}


def posts(*records: dict, **extra: object) -> str:
    return json.dumps({"data": list(records), **extra}, ensure_ascii=False)


def deep(levels: int, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


REFUSED_DOCUMENTS = [
    (
        "a repeated name at the top",
        '{"data": [], "data": [' + json.dumps(POST) + "]}",
        'a repeated name "data"',
    ),
    (
        "a repeated name in a record, where the readers differ",
        '{"data": [{"id": "1_1", "created_time": "2024-09-02T00:00:00+0000", "shares": {"count": 1, "count": 900}}]}',
        'a repeated name "count"',
    ),
    (
        "a repeated name where nothing is read",
        posts(POST)[:-1] + ', "paging": {"cursors": {"after": "a", "after": "b"}}}',
        'a repeated name "after"',
    ),
    (
        "nesting thousands deep where nothing is read",
        posts(POST)[:-1] + ', "paging": ' + deep(5000) + "}",
        "nested deeper than",
    ),
    (
        "nesting a hundred deep in a message",
        posts({**POST, "message": "§"})[:-1].replace('"§"', deep(100)) + "}",
        "nested deeper than",
    ),
    ("NaN", posts(POST)[:-1] + ', "x": NaN}', "the literal NaN"),
    ("-Infinity", posts(POST)[:-1] + ', "x": -Infinity}', "the literal -Infinity"),
    ("a number beyond a double", posts(POST)[:-1] + ', "x": 1e400}', "a number out of range: 1e400"),
    (
        "an integer of 5,000 digits",
        posts(POST)[:-1] + ', "x": ' + "9" * 5000 + "}",
        "a number of more than 4300 digits",
    ),
    ("an unpaired surrogate", posts({**POST, "message": "§"}).replace("§", "\\ud800"), "not Unicode text"),
    ("a trailing comma", posts(POST)[:-2] + ",]}", "not valid JSON"),
    ("a byte-order mark", "\ufeff" + posts(POST), "not valid JSON"),
    ("an HTML page", "<!DOCTYPE html><html>502</html>", "not valid JSON: an HTML page"),
    (
        "a Graph API error",
        '{"error": {"message": "(#4) Application request limit reached", "code": 4}}',
        "an API error body: (#4)",
    ),
    (
        "an X problem object",
        '{"title": "Too Many Requests", "status": 429}',
        "an API error body: 429 Too Many Requests",
    ),
]


@pytest.mark.parametrize(("case", "body", "reason"), REFUSED_DOCUMENTS, ids=[c[0] for c in REFUSED_DOCUMENTS])
def test_a_document_is_refused_for_the_same_reason_by_every_reader(case, body, reason):
    verdict = unusable_reason(body)
    assert verdict is not None and reason in verdict
    with pytest.raises(DocumentError) as refused:
        parse_document("facebook", "posts", body)
    assert str(refused.value) == verdict, "the parsers' reason is the definition's"
    with pytest.raises(DocumentError) as read:
        read_json(body)
    assert str(read.value) == verdict
    documents = frame_of("facebook", [("posts", body)])
    setwise = read_documents("facebook", documents)
    assert setwise.posts.height == 0
    assert setwise.rejected["reason"].to_list() == [f"unusable document: {verdict}"]
    assert_same_reading("facebook", documents)


def test_a_repeated_name_is_refused_on_every_endpoint_and_platform():
    for platform, endpoint, body in [
        ("instagram", "media_insights", '{"17": {"insights": {"data": []}, "id": "17"}, "17": {"id": "17"}}'),
        (
            "x",
            "tweets",
            '{"data": [{"id": "1", "text": "a", "text": "b", "created_at": "2024-09-02T00:00:00.000Z"}]}',
        ),
        (
            "youtube",
            "channel",
            '{"items": [{"id": "UC1", "statistics": {"subscriberCount": "1", "subscriberCount": "9"}}]}',
        ),
    ]:
        with pytest.raises(DocumentError, match="a repeated name"):
            parse_document(platform, endpoint, body)
        assert_same_reading(platform, frame_of(platform, [(endpoint, body)]))


def test_the_depth_limit_does_not_depend_on_the_callers_stack():
    at_the_limit = posts(POST)[:-1] + ', "paging": ' + deep(MAX_DEPTH - 1) + "}"  # the top object is one
    beyond = posts(POST)[:-1] + ', "paging": ' + deep(MAX_DEPTH) + "}"
    far_beyond = posts(POST)[:-1] + ', "paging": ' + deep(100_000) + "}"
    assert unusable_reason(at_the_limit) is None
    assert "nested deeper" in unusable_reason(beyond)

    def nested(levels: int) -> str | None:  # a caller deep in its own stack
        return unusable_reason(far_beyond) if levels == 0 else nested(levels - 1)

    assert nested(900) == unusable_reason(far_beyond) == f"nested deeper than {MAX_DEPTH} levels"
    assert (lambda: nested(900))() is not None


def test_a_stored_verdict_holds_for_the_body_it_judged_under_these_rules_only():
    bad = '{"data": [], "data": []}'
    stored = pl.DataFrame(
        {
            "body": [bad] * 4,
            "sha256": ["a", "a", "a", "b"],
            "unusable_reason": ["as stored"] * 3 + [None],
            "reading_rules": [READING_RULES, "0", None, READING_RULES],
            "judged_sha256": ["a", "a", "a", "a"],  # the last body was replaced after it was judged
        }
    )
    judged = with_verdicts(stored)
    assert judged["unusable_reason"].to_list() == ["as stored"] + [unusable_reason(bad)] * 3
    assert judged.columns == stored.columns
    assert with_verdicts(pl.DataFrame({"body": [bad]}))["unusable_reason"].to_list() == [unusable_reason(bad)]


REJECTED_RECORDS = [
    ("facebook", "posts", {**POST, "message": {"text": "hi"}}, "message is not a string: an object"),
    (
        "facebook",
        "posts",
        {**POST, "permalink_url": ["https://x"]},
        "permalink_url is not a string: an array",
    ),
    ("facebook", "posts", {**POST, "status_type": 7}, "status_type is not a string: a number"),
    ("facebook", "posts", {**POST, "id": {"id": "1"}}, "id is not an identifier: an object"),
    ("facebook", "posts", {**POST, "reactions": "many"}, "reactions is not an object: a string"),
    (
        "facebook",
        "posts",
        {**POST, "shares": {"count": int("9" * 100)}},
        "shares is implausibly large: a number of 100 digits",
    ),
    (
        "facebook",
        "posts",
        {**POST, "created_time": "9999-12-31T23:59:59-14:00"},
        "created_time is out of range",
    ),
    (
        "facebook",
        "posts",
        {**POST, "created_time": "1970-01-01T00:00:00+0000"},
        "created_time is out of range",
    ),
    (
        "instagram",
        "media",
        {"id": "17", "timestamp": "2024-09-02T00:00:00+0000", "media_type": {"IMAGE": 1}},
        "media_type is not a string: an object",
    ),
    (
        "instagram",
        "media",
        {"id": "17", "timestamp": "2024-09-02T00:00:00+0000", "caption": 5},
        "caption is not a string: a number",
    ),
    (
        "x",
        "tweets",
        {"id": "1", "created_at": "2024-09-02T00:00:00.000Z", "text": ["a"]},
        "text is not a string: an array",
    ),
    (
        "x",
        "tweets",
        {
            "id": "1",
            "created_at": "2024-09-02T00:00:00.000Z",
            "text": "a",
            "entities": {"hashtags": [{"tag": {}}]},
        },
        "tag is not a string: an object",
    ),
    (
        "x",
        "tweets",
        {"id": "1", "created_at": "2024-09-02T00:00:00.000Z", "text": "a", "public_metrics": "lots"},
        "public_metrics is not an object: a string",
    ),
]
YOUTUBE_REJECTED = [
    ({"duration": "P99999999999D"}, {}, "duration is implausibly long"),
    ({"duration": "PT99999999999999999999S"}, {}, "duration is implausibly long"),
    ({"duration": "PT" + "9" * 5000 + "S"}, {}, "duration is implausibly long"),
    ({"duration": "PT٣S"}, {}, "duration is not ISO 8601"),
    ({}, {"viewCount": "9" * 10_000}, "viewCount is implausibly large: a number of 10000 digits"),
    ({}, {"title": {"en": "a"}}, "title is not a string: an object"),
]


def _wrap(platform: str, endpoint: str, record: dict) -> str:
    key = "items" if platform == "youtube" else "data"
    return json.dumps({key: [record]}, ensure_ascii=False)


@pytest.mark.parametrize(
    ("platform", "endpoint", "record", "reason"), REJECTED_RECORDS, ids=lambda v: str(v)[:40]
)
def test_a_value_of_the_wrong_kind_or_out_of_bounds_rejects_the_record_with_its_reason(
    platform, endpoint, record, reason
):
    body = _wrap(platform, endpoint, record)
    parsed = parse_document(platform, endpoint, body)
    assert parsed.rows == []
    (rejection,) = parsed.rejected
    assert reason in rejection.reason
    assert_same_reading(platform, frame_of(platform, [(endpoint, body)]))


@pytest.mark.parametrize(("details", "statistics", "reason"), YOUTUBE_REJECTED, ids=lambda v: str(v)[:40])
def test_youtube_durations_counts_and_titles_out_of_bounds_reject_the_video(details, statistics, reason):
    snippet = {"publishedAt": "2024-09-02T00:00:00Z", "title": "a"}
    good = {"id": "v2", "snippet": snippet, "contentDetails": {"duration": "PT1M"}, "statistics": {}}
    statistics = dict(statistics)
    bad_snippet = {**snippet, "title": statistics.pop("title")} if "title" in statistics else snippet
    video = {"id": "v1", "snippet": bad_snippet, "contentDetails": details, "statistics": statistics}
    body = json.dumps({"items": [video, good]}, ensure_ascii=False)
    parsed = parse_document("youtube", "videos", body)
    assert [row["post_id"] for row in parsed.rows] == ["v2"], "the rest of the document is read"
    (rejection,) = parsed.rejected
    assert rejection.record_id == "v1" and reason in rejection.reason
    assert_same_reading("youtube", frame_of("youtube", [("videos", body)]))


def test_x_includes_and_errors_of_the_wrong_kind_refuse_the_document_by_name():
    for extra, reason in [
        ({"includes": ["media"]}, "includes is not an object"),
        ({"includes": {"media": 5}}, "includes.media is not an array"),
        ({"errors": 5}, "errors is not an array"),
    ]:
        body = json.dumps(
            {"data": [{"id": "1", "text": "a", "created_at": "2024-09-02T00:00:00.000Z"}], **extra}
        )
        with pytest.raises(DocumentError, match=reason):
            parse_document("x", "tweets", body)
        assert_same_reading("x", frame_of("x", [("tweets", body)]))
