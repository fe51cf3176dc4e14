"""The Facebook Graph API source: paging to the last page, insights in batches, retired metrics."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest
from support.api_server import (
    JSON,
    SEPTEMBER,
    SINCE,
    TOKEN,
    UNTIL,
    account,
    assert_parses_cleanly,
    base_of,
    expect,
    facebook_post,
    graph,
    queries_to,
    serve_facebook_page,
    serve_facebook_posts,
    serve_insights,
    shape,
)

from cityindex_pipeline.sources.api.facebook import FACEBOOK_METRICS
from cityindex_pipeline.sources.base import REDACTED, SourceError

FB_LEGACY = "insights.metric(post_impressions,post_impressions_unique)"
FB_CURRENT = "insights.metric(post_media_view,post_impressions_unique)"
RETIRED_METRIC = {
    "error": {
        "message": "(#100) The value must be a valid insights metric",
        "type": "OAuthException",
        "code": 100,
        "fbtrace_id": "AbCdEf",
    }
}


def test_facebook_follows_empty_pages_to_the_last_and_never_stores_or_logs_the_token(
    server, make_source, caplog
):
    serve_facebook_page(server)
    first, last = (
        facebook_post("104_1", "2024-09-30T08:15:00+0000"),
        facebook_post("104_2", "2024-09-02T08:15:00+0000"),
    )
    serve_facebook_posts(server, [[first], [], [last]])
    serve_insights(
        server, ["104_1", "104_2"], FB_LEGACY, {"post_impressions": 300, "post_impressions_unique": 200}
    )
    caplog.set_level(logging.DEBUG)

    documents = list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))

    assert shape(documents) == [("page", 1), ("posts", 1), ("posts", 2), ("posts", 3), ("post_insights", 1)]
    assert json.loads(documents[2].body)["data"] == [], "the empty page is stored and followed"
    assert "next" not in json.loads(documents[3].body)["paging"]
    assert f"access_token={REDACTED}" in json.loads(documents[1].body)["paging"]["next"]
    for doc in documents:
        assert TOKEN not in doc.body
        assert TOKEN not in doc.request_url and "access_token=" not in doc.request_url
    assert documents[3].request_url.endswith(f"&since={SINCE}&until={UNTIL}&limit=25&after=cursor2")
    requests = [record for record in caplog.records if record.name == "cityindex.api"]
    assert len(requests) == 5 and all(record.levelno == logging.DEBUG for record in requests)
    ours = [record for record in caplog.records if record.name != "werkzeug"]  # not the test server's log
    assert ours and all(TOKEN not in record.getMessage() for record in ours)
    assert_parses_cleanly(documents)


def test_a_next_url_that_repeats_stops_the_pull(server, make_source):
    serve_facebook_page(server)
    path = "/v21.0/104/published_posts"
    again = f"{base_of(server)}{path}?after=same&access_token={TOKEN}"
    expect(server, path).respond_with_json({"data": [], "paging": {"next": again}})
    with pytest.raises(SourceError, match="repeats") as raised:
        list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))
    assert TOKEN not in str(raised.value)
    assert len(queries_to(server, path)) == 2


def test_a_body_nested_thousands_deep_steers_nothing_and_is_kept_to_be_refused(server, make_source):
    serve_facebook_page(server)
    body = '{"data": [], "paging": {"next": ' + "[" * 5000 + "]" * 5000 + "}}"
    expect(server, "/v21.0/104/published_posts").respond_with_data(body, content_type=JSON)
    documents = list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))
    (posts,) = [d for d in documents if d.endpoint == "posts"]
    assert posts.body == body, "kept verbatim"
    assert posts.unusable == "nested deeper than 64 levels", "and refused, as every reader refuses it"


def test_graph_insights_ask_each_post_once_in_batches_of_fifty(server, make_source):
    posts = [facebook_post(f"104_{n}", f"2024-09-{28 - n // 3:02d}T08:00:00+0000") for n in range(60)]
    serve_facebook_page(server)
    serve_facebook_posts(server, [posts[:25], posts[24:49], posts[49:]])  # a cursor shift shows one twice
    ids = [post["id"] for post in posts]
    metrics = {"post_impressions": 300, "post_impressions_unique": 200}
    serve_insights(server, ids[:50], FB_LEGACY, metrics)
    serve_insights(server, ids[50:], FB_LEGACY, metrics)
    documents = list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))
    assert shape(documents)[-2:] == [("post_insights", 1), ("post_insights", 2)]
    assert [len(json.loads(doc.body)) for doc in documents if doc.endpoint == "post_insights"] == [50, 10]


@pytest.mark.parametrize(
    ("version", "today", "first"),
    [
        ("v21.0", date(2024, 10, 3), "post_impressions"),
        ("v21.0", date(2025, 11, 2), "post_media_view"),
        ("v22.0", date(2024, 10, 3), "post_media_view"),
    ],
)
def test_the_metric_set_tried_first_follows_the_version_and_the_retirement_date(version, today, first):
    tried_first, fallback = FACEBOOK_METRICS.ordered(version, today)
    assert tried_first[0] == first and set(fallback) != set(tried_first)


# --- retired insights metrics ---------------------------------------------------------------------------------


def test_a_retired_metric_set_falls_back_once_and_the_fallback_is_kept(server, make_source):
    accounts = [account("facebook", "VisitNanjing", "104"), account("facebook", "VisitSuzhou", "105")]
    for page_id in ("104", "105"):
        serve_facebook_page(server, page_id, "v22.0")
        serve_facebook_posts(
            server, [[facebook_post(f"{page_id}_1", "2024-09-10T08:00:00+0000")]], page_id, "v22.0"
        )
    expect(server, "/v22.0/", graph(ids="104_1", fields=FB_CURRENT)).respond_with_json(
        RETIRED_METRIC, status=400
    )
    legacy = {"post_impressions": 300, "post_impressions_unique": 200}
    serve_insights(server, ["104_1"], FB_LEGACY, legacy, "v22.0")
    serve_insights(server, ["105_1"], FB_LEGACY, legacy, "v22.0")

    documents = list(make_source(graph_version="v22.0").pull(SEPTEMBER, "facebook", accounts))

    insights = [doc for doc in documents if doc.endpoint == "post_insights"]
    assert [doc.page for doc in insights] == [1, 1]
    assert all(
        doc.request_url.endswith("fields=insights.metric(post_impressions,post_impressions_unique)")
        for doc in insights
    )
    assert json.loads(insights[0].body)["104_1"]["insights"]["data"][0]["name"] == "post_impressions"
    assert [query["fields"] for query in queries_to(server, "/v22.0/")] == [FB_CURRENT, FB_LEGACY, FB_LEGACY]
    assert_parses_cleanly(documents)


def test_when_both_metric_sets_are_refused_the_error_names_them(server, make_source):
    serve_facebook_page(server, "104", "v22.0")
    serve_facebook_posts(server, [[facebook_post("104_1", "2024-09-10T08:00:00+0000")]], "104", "v22.0")
    expect(server, "/v22.0/").respond_with_json(RETIRED_METRIC, status=400)
    with pytest.raises(
        SourceError, match=r"post_media_view,post_impressions_unique .* post_impressions,post_imp"
    ):
        list(
            make_source(graph_version="v22.0").pull(SEPTEMBER, "facebook", [account("facebook", "V", "104")])
        )
