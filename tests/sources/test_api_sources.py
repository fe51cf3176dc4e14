"""The live API source against a local server: endpoints, paging, secrets, rate limits and quotas."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from pytest_httpserver.httpserver import HandlerType, RequestHandler
from werkzeug import Request, Response

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.parsing import parse_document
from cityindex_pipeline.quality.completeness import drop_complete, read_pull
from cityindex_pipeline.reference.registry import Account, load_registry
from cityindex_pipeline.sources.api import MAX_BYTES_VARIABLE, MAX_PAGES_VARIABLE, AccountCap, ApiSource
from cityindex_pipeline.sources.api.facebook import FACEBOOK_METRICS
from cityindex_pipeline.sources.base import (
    ENDPOINTS,
    REDACTED,
    MissingCredentialsError,
    QuotaExceededError,
    RawDocument,
    SourceError,
    SourceProblem,
)
from cityindex_pipeline.sources.ingest import pull_month
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.sources.simulated.facebook import FB_POST_FIELDS
from cityindex_pipeline.sources.simulated.instagram import IG_MEDIA_FIELDS
from cityindex_pipeline.sources.simulated.x import X_TWEET_PARAMS
from cityindex_pipeline.warehouse.store import Warehouse

TOKEN = "SECRET-TOKEN"
PLATFORMS = ("facebook", "instagram", "x", "youtube")
ENVIRON = {
    "FACEBOOK_ACCESS_TOKEN": TOKEN,
    "INSTAGRAM_ACCESS_TOKEN": TOKEN,
    "X_BEARER_TOKEN": TOKEN,
    "YOUTUBE_API_KEY": TOKEN,
}
TOKEN_PARAMETER = {"facebook": "access_token", "instagram": "access_token", "youtube": "key"}
SIMULATED_ORIGIN = {
    "facebook": "https://graph.facebook.com",
    "instagram": "https://graph.facebook.com",
    "x": "https://api.x.com",
    "youtube": "https://www.googleapis.com",
}
SEPTEMBER = Month(2024, 9)
SINCE, UNTIL = "1725120000", "1727712000"
"""September 2024 in Beijing time, as unix seconds: 2024-08-31T16:00Z to 2024-09-30T16:00Z."""
NOW = datetime(2024, 10, 3, 2, 0, tzinfo=UTC)
JSON = "application/json; charset=UTF-8"
PAGE_FIELDS = "id,name,username,link,fan_count,followers_count"
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
X_USER_PATH = "/2/users/by/username/VisitNanjing"
X_USER = {
    "data": {
        "id": "42",
        "name": "Visit Nanjing",
        "username": "VisitNanjing",
        "created_at": "2019-03-01T00:00:00.000Z",
        "public_metrics": {
            "followers_count": 1200,
            "following_count": 2,
            "tweet_count": 3,
            "listed_count": 4,
        },
    }
}
X_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
X_TWEETS_QUERY = {"start_time": "2024-08-31T16:00:00Z", "end_time": "2024-09-30T16:00:00Z", **X_TWEET_PARAMS}


class Sleeps(list):
    """The injected sleep: records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server(httpserver: HTTPServer) -> HTTPServer:
    httpserver.no_handler_status_code = 404  # an unexpected request fails at once instead of being retried
    return httpserver


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_source(server: HTTPServer, sleeps: Sleeps) -> Iterator[Callable[..., ApiSource]]:
    made: list[ApiSource] = []

    def make(**overrides: Any) -> ApiSource:
        options: dict[str, Any] = {
            "environ": ENVIRON,
            "base_urls": dict.fromkeys(PLATFORMS, base_of(server)),
            "sleep": sleeps,
            "clock": lambda: NOW,
            **overrides,
        }
        made.append(ApiSource(**options))
        return made[-1]

    yield make
    for source in made:
        source.close()


def base_of(server: HTTPServer) -> str:
    return server.url_for("").rstrip("/")


def account(platform: str, handle: str, account_id: str) -> Account:
    return Account("nanjing", platform, handle, account_id, "Visit Nanjing", date(2015, 1, 1))


def expect(
    server: HTTPServer, path: str, query: dict[str, str] | None = None, *, once: bool = False, **kwargs: Any
) -> RequestHandler:
    kind = HandlerType.ONESHOT if once else HandlerType.PERMANENT
    return server.expect_request(path, query_string=query, handler_type=kind, **kwargs)


def graph(**params: str) -> dict[str, str]:
    return {**params, "access_token": TOKEN}


def queries_to(server: HTTPServer, path: str) -> list[dict[str, str]]:
    return [
        dict(parse_qsl(request.query_string.decode())) for request, _ in server.log if request.path == path
    ]


def insights_entry(post_id: str, metrics: dict[str, int]) -> dict[str, Any]:
    data = [
        {"name": name, "period": "lifetime", "values": [{"value": value}], "id": f"{post_id}/insights/{name}"}
        for name, value in metrics.items()
    ]
    return {"insights": {"data": data}, "id": post_id}


def assert_parses_cleanly(documents: list[RawDocument]) -> None:
    for doc in documents:
        parsed = parse_document(doc.platform, doc.endpoint, doc.body)
        assert parsed.rejected == [], (doc.endpoint, doc.page, parsed.rejected[:1])


def shape(documents: list[RawDocument]) -> list[tuple[str, int]]:
    return [(doc.endpoint, doc.page) for doc in documents]


# --- a full pull per platform, re-serving the simulator's documents ------------------------------------------


def serve_simulated(server: HTTPServer, documents: list[RawDocument]) -> dict[tuple[str, str, int], tuple]:
    """Serve each simulated body where its request URL points, on the local server; Graph `next` URLs
    embed the token as the real API does. Returns the URL and body the API source should store."""
    expected = {}
    base = base_of(server)
    for doc in documents:
        origin = SIMULATED_ORIGIN[doc.platform]
        url = base + doc.request_url.removeprefix(origin)
        query = dict(parse_qsl(urlsplit(url).query))
        headers = X_HEADERS if doc.platform == "x" else None
        if doc.platform != "x":
            query[TOKEN_PARAMETER[doc.platform]] = TOKEN
        body = doc.body
        payload = json.loads(body)
        if "next" in (payload.get("paging") or {}):
            payload["paging"]["next"] = (
                payload["paging"]["next"].replace(origin, base) + f"&access_token={TOKEN}"
            )
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        expect(server, urlsplit(url).path, query, headers=headers).respond_with_data(body, content_type=JSON)
        expected[(doc.account_handle, doc.endpoint, doc.page)] = (url, body.replace(TOKEN, REDACTED))
    return expected


@pytest.mark.parametrize(
    ("platform", "month", "graph_version"),
    [
        ("facebook", SEPTEMBER, "v21.0"),
        ("instagram", Month(2025, 2), "v22.0"),
        ("x", SEPTEMBER, None),
        ("youtube", SEPTEMBER, None),
    ],
)
def test_a_full_pull_fetches_what_the_documents_describe(server, make_source, platform, month, graph_version):
    accounts = load_registry().accounts_for(platform)[:6]
    simulated = list(SimulatedSource().pull(month, platform, accounts))
    expected = serve_simulated(server, simulated)

    documents = list(make_source(graph_version=graph_version).pull(month, platform, accounts))

    assert [(d.account_handle, d.endpoint, d.page) for d in documents] == [
        (d.account_handle, d.endpoint, d.page) for d in simulated
    ]
    assert {d.endpoint for d in documents} == set(ENDPOINTS[platform])
    if platform in ("facebook", "instagram"):
        assert max(d.page for d in documents) > 1, "paging is exercised"
    for doc in documents:
        url, body = expected[(doc.account_handle, doc.endpoint, doc.page)]
        assert (doc.request_url, doc.body) == (url, body), (doc.account_handle, doc.endpoint, doc.page)
        assert doc.source == "api" and doc.month == month and doc.fetched_at == NOW
    assert len(server.log) == len(simulated), "one request per document, nothing fetched twice"
    assert_parses_cleanly(documents)


# --- Graph API paging and the token ---------------------------------------------------------------------------


def facebook_post(post_id: str, created: str) -> dict[str, Any]:
    return {
        "id": post_id,
        "created_time": created,
        "message": "Autumn colours along the old city wall #VisitNanjing",
        "permalink_url": f"https://www.facebook.com/104/posts/{post_id}",
        "status_type": "added_photos",
        "reactions": {"data": [], "summary": {"total_count": 10, "viewer_reaction": "NONE"}},
        "comments": {"data": [], "summary": {"order": "ranked", "total_count": 2, "can_comment": True}},
    }


def serve_facebook_page(server: HTTPServer, page_id: str = "104", version: str = "v21.0") -> None:
    expect(server, f"/{version}/{page_id}", graph(fields=PAGE_FIELDS)).respond_with_json(
        {"id": page_id, "name": "Visit Nanjing", "fan_count": 12000, "followers_count": 12345}
    )


def serve_facebook_posts(
    server: HTTPServer, pages: list[list[dict]], page_id: str = "104", version: str = "v21.0"
) -> None:
    """Post pages whose `next` embeds the token, with the parameters in the API's own order."""
    path = f"/{version}/{page_id}/published_posts"
    window = {"fields": FB_POST_FIELDS, "since": SINCE, "until": UNTIL, "limit": "25"}
    for number, posts in enumerate(pages):
        payload: dict[str, Any] = {"data": posts, "paging": {}}
        if number + 1 < len(pages):
            rest = urlencode({**window, "after": f"cursor{number + 1}"})
            payload["paging"]["next"] = f"{base_of(server)}{path}?access_token={TOKEN}&{rest}"
        query = graph(**window, **({"after": f"cursor{number}"} if number else {}))
        expect(server, path, query).respond_with_json(payload)


def serve_insights(
    server: HTTPServer, ids: list[str], fields: str, metrics: dict[str, int], version: str = "v21.0"
) -> None:
    expect(server, f"/{version}/", graph(ids=",".join(ids), fields=fields)).respond_with_json(
        {post_id: insights_entry(post_id, metrics) for post_id in ids}
    )


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


def test_a_token_echoed_percent_encoded_is_redacted_too(server, make_source):
    token = "1234|app/secret"
    base = base_of(server)
    expect(server, "/v21.0/104", {"fields": PAGE_FIELDS, "access_token": token}).respond_with_json(
        {"id": "104"}
    )
    path = "/v21.0/104/published_posts"
    following = f"{base}{path}?{urlencode({'access_token': token, 'after': 'c1'})}"
    expect(
        server,
        path,
        {"fields": FB_POST_FIELDS, "since": SINCE, "until": UNTIL, "limit": "25", "access_token": token},
    ).respond_with_json({"data": [], "paging": {"next": following}})
    expect(server, path, {"after": "c1", "access_token": token}).respond_with_json({"data": []})
    environ = {"FACEBOOK_ACCESS_TOKEN": token}
    documents = list(
        make_source(environ=environ).pull(SEPTEMBER, "facebook", [account("facebook", "V", "104")])
    )
    assert shape(documents) == [("page", 1), ("posts", 1), ("posts", 2)]
    assert "1234%7Capp%2Fsecret" in following and "1234%7Capp%2Fsecret" not in documents[1].body
    assert f"access_token={REDACTED}" in documents[1].body
    assert documents[2].request_url == f"{base}{path}?after=c1"


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


def test_a_next_url_on_another_host_never_gets_the_token(server, make_source):
    serve_facebook_page(server)
    elsewhere = f"https://example.com/v21.0/104/published_posts?after=x&access_token={TOKEN}"
    expect(server, "/v21.0/104/published_posts").respond_with_json(
        {"data": [], "paging": {"next": elsewhere}}
    )
    with pytest.raises(SourceError, match=r"refusing to send FACEBOOK_ACCESS_TOKEN to https://example\.com"):
        list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))


def instagram_media(media_id: str, when: str) -> dict[str, Any]:
    return {
        "id": media_id,
        "media_type": "IMAGE",
        "media_product_type": "FEED",
        "permalink": f"https://www.instagram.com/p/{media_id}/",
        "timestamp": when,
        "comments_count": 1,
    }


def test_instagram_pages_only_until_past_the_month_and_asks_insights_for_its_media(server, make_source):
    """The media edge may ignore since/until: every page fetched is stored, insights only for the month."""
    path, base = "/v22.0/178/media", base_of(server)
    user_fields = "id,username,name,followers_count,follows_count,media_count"
    expect(server, "/v22.0/178", graph(fields=user_fields)).respond_with_json(
        {"id": "178", "followers_count": 9}
    )
    newest = [
        instagram_media("m-oct", "2024-10-01T09:00:00+0000"),
        instagram_media("m-sep", "2024-09-15T09:00:00+0000"),
    ]
    older = [
        instagram_media("m-sep-first-hour", "2024-08-31T16:30:00+0000"),
        instagram_media("m-aug", "2024-08-20T09:00:00+0000"),
    ]
    window = graph(fields=IG_MEDIA_FIELDS, since=SINCE, until=UNTIL, limit="25")
    expect(server, path, window).respond_with_json(
        {"data": newest, "paging": {"next": f"{base}{path}?after=c2&access_token={TOKEN}"}}
    )
    expect(server, path, graph(after="c2")).respond_with_json(
        {"data": older, "paging": {"next": f"{base}{path}?after=c3&access_token={TOKEN}"}}
    )
    ids = ["m-sep", "m-sep-first-hour"]
    serve_insights(
        server, ids, "insights.metric(views,reach,saved)", {"views": 30, "reach": 20, "saved": 1}, "v22.0"
    )

    source = make_source(graph_version="v22.0")
    documents = list(source.pull(SEPTEMBER, "instagram", [account("instagram", "visitnanjing", "178")]))

    assert shape(documents) == [("user", 1), ("media", 1), ("media", 2), ("media_insights", 1)]
    assert [query.get("after") for query in queries_to(server, path)] == [None, "c2"], "c3 is never asked for"
    assert_parses_cleanly(documents)


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


# --- rate limits, retries, quotas -----------------------------------------------------------------------------


def serve_x(server: HTTPServer, tweets: dict[str, Any] | None = None) -> None:
    expect(server, X_USER_PATH, headers=X_HEADERS).respond_with_json(X_USER)
    expect(server, "/2/users/42/tweets", headers=X_HEADERS).respond_with_json(
        tweets or {"meta": {"result_count": 0}}
    )


def pull_x(make_source, **overrides: Any) -> list[RawDocument]:
    return list(make_source(**overrides).pull(SEPTEMBER, "x", [account("x", "VisitNanjing", "42")]))


def test_x_429_waits_until_the_reset_then_succeeds(server, make_source, sleeps):
    reset = int(NOW.timestamp()) + 42
    headers = {"x-rate-limit-limit": "900", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
    too_many = {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    expect(server, X_USER_PATH, once=True).respond_with_json(too_many, status=429, headers=headers)
    serve_x(server)
    assert shape(pull_x(make_source)) == [("user", 1), ("tweets", 1)]
    assert sleeps == [pytest.approx(43, abs=1)]


def test_a_rate_limit_resetting_too_late_stops_and_says_when(server, make_source, sleeps):
    reset = int(NOW.timestamp()) + 3600
    expect(server, X_USER_PATH).respond_with_json(
        {"title": "Too Many Requests"}, status=429, headers={"x-rate-limit-reset": str(reset)}
    )
    with pytest.raises(SourceError, match="rate limited until 2024-10-03 03:00:00 UTC"):
        pull_x(make_source)
    assert sleeps == []


def test_retry_after_is_honoured(server, make_source, sleeps):
    expect(server, X_USER_PATH, once=True).respond_with_data("", status=429, headers={"retry-after": "7"})
    serve_x(server)
    assert len(pull_x(make_source)) == 2
    assert sleeps == [7.0]


def business_usage(minutes: int) -> str:
    usage = {"type": "pages", "call_count": 100, "total_cputime": 12, "total_time": 30}
    return json.dumps({"104": [{**usage, "estimated_time_to_regain_access": minutes}]})


@pytest.mark.parametrize(
    ("code", "status", "headers", "waited"),
    [
        (4, 400, {"x-app-usage": '{"call_count":100,"total_cputime":20,"total_time":30}'}, (1.0, 2.0)),
        (17, 400, {"x-business-use-case-usage": business_usage(3)}, (180.0, 180.0)),
        (613, 400, {"x-business-use-case-usage": business_usage(2)}, (120.0, 120.0)),
        (32, 403, {"x-business-use-case-usage": business_usage(1)}, (60.0, 60.0)),
        (80001, 400, {"x-business-use-case-usage": business_usage(0)}, (1.0, 2.0)),
    ],
)
def test_graph_throttling_waits_then_succeeds(server, make_source, sleeps, code, status, headers, waited):
    throttled = {"error": {"message": f"(#{code}) Too many calls", "type": "OAuthException", "code": code}}
    expect(server, "/v21.0/104", once=True).respond_with_json(throttled, status=status, headers=headers)
    serve_facebook_page(server)
    serve_facebook_posts(server, [[]])
    documents = list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))
    assert shape(documents) == [("page", 1), ("posts", 1)]
    assert len(sleeps) == 1 and waited[0] <= sleeps[0] <= waited[1]


def test_a_server_error_is_retried_after_a_backoff(server, make_source, sleeps):
    expect(server, X_USER_PATH, once=True).respond_with_data("<html>Bad gateway</html>", status=502)
    serve_x(server)
    assert len(pull_x(make_source)) == 2
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 2.0


def test_repeated_server_errors_give_up_without_the_key_in_the_message(server, make_source, sleeps, caplog):
    echo = {
        "error": {
            "code": 500,
            "message": f"Backend Error for key={TOKEN}",
            "errors": [{"reason": "backendError"}],
        }
    }
    expect(server, "/youtube/v3/channels").respond_with_json(echo, status=500)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError, match="failed after 3 attempts") as raised:
        list(
            make_source(max_retries=2).pull(SEPTEMBER, "youtube", [account("youtube", "VisitNanjing", "UC1")])
        )
    assert TOKEN not in str(raised.value) and REDACTED in str(raised.value)
    assert len(queries_to(server, "/youtube/v3/channels")) == 3
    assert len(sleeps) == 2 and 1.0 <= sleeps[0] <= 2.0 and 2.0 <= sleeps[1] <= 3.0, "exponential, jittered"
    assert sum(record.levelno == logging.WARNING for record in caplog.records) == 2, "one warning per retry"
    assert all(TOKEN not in record.getMessage() for record in caplog.records if record.name != "werkzeug")


def test_connection_errors_are_retried_then_reported_without_the_token(make_source, sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    source = make_source(base_urls={"youtube": closed}, max_retries=1)
    with pytest.raises(SourceError, match="ConnectError") as raised:
        list(source.pull(SEPTEMBER, "youtube", [account("youtube", "VisitNanjing", "UC1")]))
    assert TOKEN not in str(raised.value) and raised.value.__context__ is None
    assert len(sleeps) == 1


def test_youtube_quota_exceeded_stops_at_once(server, make_source, sleeps):
    quota = {
        "error": {
            "code": 403,
            "message": "The request cannot be completed because you have exceeded your quota.",
            "errors": [{"message": "quota", "domain": "youtube.quota", "reason": "quotaExceeded"}],
        }
    }
    expect(server, "/youtube/v3/channels").respond_with_json(quota, status=403)
    with pytest.raises(QuotaExceededError, match="quotaExceeded") as raised:
        list(make_source().pull(SEPTEMBER, "youtube", [account("youtube", "VisitNanjing", "UC1")]))
    assert TOKEN not in str(raised.value)
    assert len(server.log) == 1 and sleeps == []


def test_a_pull_stopped_by_the_quota_resumes_after_the_stored_channels(server, make_source, tmp_path):
    accounts = load_registry().accounts_for("youtube")[:6]
    simulated = list(SimulatedSource().pull(SEPTEMBER, "youtube", accounts))
    quota = {"error": {"code": 403, "message": "quota", "errors": [{"reason": "quotaExceeded"}]}}
    spent_at = accounts[3].platform_account_id
    expect(
        server,
        "/youtube/v3/channels",
        {"part": "snippet,statistics,contentDetails", "id": spent_at, "key": TOKEN},
    ).respond_with_json(quota, status=403)
    serve_simulated(server, simulated)
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema()

    with pytest.raises(QuotaExceededError):
        pull_month(make_source(), warehouse, SEPTEMBER, "youtube", accounts, run_id="run-1")
    unfinished = warehouse.unfinished_pull(SEPTEMBER, "youtube", "api")
    assert unfinished is not None
    # the third channel was fetched whole, but an account counts as received only once the source has
    # moved past it: the one in flight when the pull stopped is asked again
    assert warehouse.stored_accounts(str(unfinished["pull_id"])) == {a.account_handle for a in accounts[:2]}

    server.clear()
    serve_simulated(server, simulated)
    summary = pull_month(make_source(), warehouse, SEPTEMBER, "youtube", accounts, run_id="run-2")

    assert summary.resumed and summary.accounts_skipped_as_stored == 2
    asked = {dict(parse_qsl(request.query_string.decode())).get("id") for request, _ in server.log}
    assert {a.platform_account_id for a in accounts[:2]}.isdisjoint(asked), "stored channels not asked again"
    assert {a.platform_account_id for a in accounts[2:]} <= asked
    stored = warehouse.read_month("raw.documents", SEPTEMBER)
    assert stored.height == len(simulated), "every document once: nothing lost, nothing twice"
    assert stored["pull_id"].unique().to_list() == [str(unfinished["pull_id"])]


def test_other_client_errors_stop_with_the_api_message(server, make_source, sleeps):
    expired = {
        "error": {
            "message": "Error validating access token: Session has expired",
            "type": "OAuthException",
            "code": 190,
        }
    }
    expect(server, "/v21.0/104").respond_with_json(expired, status=400)
    with pytest.raises(
        SourceError, match=r"HTTP 400 \(code 190\).*Session has expired \(check FACEBOOK_ACCESS_TOKEN\)"
    ):
        list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))
    assert len(server.log) == 1 and sleeps == []


def test_a_page_that_is_gone_is_a_problem_and_the_pull_goes_on(server, make_source):
    gone = {
        "error": {
            "message": "Unsupported get request. Object with ID '999' does not exist, cannot be loaded due "
            "to missing permissions, or does not support this operation.",
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
            "fbtrace_id": "AbC",
        }
    }
    expect(server, "/v21.0/999").respond_with_json(gone, status=400)
    serve_facebook_page(server)
    serve_facebook_posts(server, [[]])
    accounts = [account("facebook", "GoneNanjing", "999"), account("facebook", "VisitNanjing", "104")]

    items = list(make_source().pull(SEPTEMBER, "facebook", accounts))

    problem, *documents = items
    assert isinstance(problem, SourceProblem) and problem.account_handle == "GoneNanjing"
    assert "does not exist" in problem.reason and "(999)" in problem.reason
    assert problem.location == f"{base_of(server)}/v21.0/999?fields={PAGE_FIELDS}"
    assert json.loads(problem.content)["error"]["error_subcode"] == 33
    assert shape(documents) == [("page", 1), ("posts", 1)]
    assert {doc.account_handle for doc in documents} == {"VisitNanjing"}


def test_an_account_failing_half_way_is_not_stored_half_pulled(server, make_source):
    serve_facebook_page(server)
    expect(server, "/v21.0/104/published_posts").respond_with_json({"error": {"message": "?"}}, status=404)

    (problem,) = list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))

    assert isinstance(problem, SourceProblem), "the page document fetched first is not stored alone"
    assert "HTTP 404" in problem.reason


# --- X --------------------------------------------------------------------------------------------------------


def test_an_x_partial_error_is_a_document(server, make_source):
    tweet = {
        "id": "1840000000000000001",
        "text": "Golden hour over the riverside #VisitNanjing",
        "created_at": "2024-09-30T02:00:00.000Z",
        "edit_history_tweet_ids": ["1840000000000000001"],
        "public_metrics": {"retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 0},
    }
    partial = {
        "data": [tweet],
        "errors": [
            {
                "title": "Not Found Error",
                "detail": "Could not find media",
                "type": "https://api.x.com/2/problems/resource-not-found",
            }
        ],
        "meta": {"result_count": 1, "newest_id": tweet["id"], "oldest_id": tweet["id"]},
    }
    serve_x(server, partial)
    documents = pull_x(make_source)
    assert shape(documents) == [("user", 1), ("tweets", 1)]
    assert json.loads(documents[1].body) == partial
    parsed = parse_document("x", "tweets", documents[1].body)
    assert len(parsed.rows) == 1 and [r.reason for r in parsed.rejected] == ["partial error returned by X"]
    query = queries_to(server, "/2/users/42/tweets")[0]
    assert (query["start_time"], query["end_time"]) == ("2024-08-31T16:00:00Z", "2024-09-30T16:00:00Z")


def test_x_follows_next_token_and_an_unknown_user_gets_no_tweets(server, make_source):
    expect(server, X_USER_PATH).respond_with_json(X_USER)
    path = "/2/users/42/tweets"
    expect(server, path, X_TWEETS_QUERY).respond_with_json({"meta": {"result_count": 0, "next_token": "t2"}})
    expect(server, path, {**X_TWEETS_QUERY, "pagination_token": "t2"}).respond_with_json(
        {"meta": {"result_count": 0}}
    )
    missing = {
        "errors": [{"detail": "Could not find user with username: [Gone].", "title": "Not Found Error"}]
    }
    expect(server, "/2/users/by/username/Gone").respond_with_json(missing)
    accounts = [account("x", "VisitNanjing", "42"), account("x", "Gone", "43")]
    documents = list(make_source().pull(SEPTEMBER, "x", accounts))
    assert [(d.account_handle, d.endpoint, d.page) for d in documents] == [
        ("VisitNanjing", "user", 1),
        ("VisitNanjing", "tweets", 1),
        ("VisitNanjing", "tweets", 2),
        ("Gone", "user", 1),
    ]
    assert documents[2].request_url.endswith("&pagination_token=t2")


# --- credentials and configuration ----------------------------------------------------------------------------


def test_a_missing_token_stops_only_its_platform(server, make_source):
    environ = {key: value for key, value in ENVIRON.items() if key != "X_BEARER_TOKEN"}
    source = make_source(environ=environ)
    with pytest.raises(MissingCredentialsError, match="X_BEARER_TOKEN"):
        source.pull(SEPTEMBER, "x", [account("x", "VisitNanjing", "42")])
    serve_facebook_page(server)
    serve_facebook_posts(server, [[]])
    documents = list(source.pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))
    assert shape(documents) == [("page", 1), ("posts", 1)]


def test_base_urls_and_the_graph_version_come_from_the_environment(server, sleeps):
    environ = {
        **ENVIRON,
        "CITYINDEX_FACEBOOK_BASE_URL": base_of(server),
        "CITYINDEX_GRAPH_API_VERSION": "v23.0",
    }
    serve_facebook_page(server, "104", "v23.0")
    serve_facebook_posts(server, [[]], "104", "v23.0")
    source = ApiSource(environ=environ, sleep=sleeps, clock=lambda: NOW)
    try:
        documents = list(source.pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))
    finally:
        source.close()
    assert documents[0].request_url == f"{base_of(server)}/v23.0/104?fields={PAGE_FIELDS}"
    defaults = ApiSource(environ={})
    assert (defaults.base_urls["x"], defaults.graph_version) == ("https://api.x.com", "v21.0")
    defaults.close()


def test_inactive_accounts_are_skipped(server, make_source):
    later = Account("nanjing", "x", "VisitNanjing", "42", "Visit Nanjing", date(2024, 10, 15))
    assert list(make_source().pull(SEPTEMBER, "x", [later])) == []
    assert server.log == []


# --- YouTube paging -------------------------------------------------------------------------------------------


def playlist_item(video_id: str, published: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"videoId": video_id}
    if published is not None:
        details["videoPublishedAt"] = published
    return {
        "kind": "youtube#playlistItem",
        "etag": f"e{video_id}",
        "id": f"item-{video_id}",
        "snippet": {
            "publishedAt": published or "2024-09-01T00:00:00Z",
            "channelId": "UC1",
            "title": video_id,
        },
        "contentDetails": details,
    }


def test_youtube_pages_back_to_the_month_and_looks_up_its_videos_in_fifties(server, make_source):
    channel = {
        "kind": "youtube#channelListResponse",
        "items": [
            {
                "id": "UC1",
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": "UU1"}},
                "statistics": {
                    "viewCount": "10",
                    "subscriberCount": "5",
                    "hiddenSubscriberCount": False,
                    "videoCount": "120",
                },
            }
        ],
    }
    expect(
        server,
        "/youtube/v3/channels",
        {"part": "snippet,statistics,contentDetails", "id": "UC1", "key": TOKEN},
    ).respond_with_json(channel)
    october = [playlist_item(f"oct{n:02d}", f"2024-10-0{1 + n % 2}T03:00:00Z") for n in range(10)]
    september = [playlist_item(f"sep{n:02d}", f"2024-09-{29 - n // 3:02d}T03:00:00Z") for n in range(65)]
    private = playlist_item("private1", None)
    august = [playlist_item(f"aug{n:02d}", f"2024-08-{30 - n // 3:02d}T03:00:00Z") for n in range(24)]
    listed = [*october, *september[:39], private, *september[39:], *august]
    pages = [listed[:50], listed[50:100], [playlist_item("aug-older", "2024-07-01T00:00:00Z")]]
    playlist = {"part": "snippet,contentDetails", "playlistId": "UU1", "maxResults": "50", "key": TOKEN}
    for number, items in enumerate(pages):
        query = {**playlist, **({"pageToken": f"p{number}"} if number else {})}
        expect(server, "/youtube/v3/playlistItems", query).respond_with_json(
            {"kind": "youtube#playlistItemListResponse", "nextPageToken": f"p{number + 1}", "items": items}
        )
    video_ids = [f"sep{n:02d}" for n in range(65)]
    for batch in (video_ids[:50], video_ids[50:]):
        videos = [
            {
                "id": video_id,
                "snippet": {"publishedAt": "2024-09-20T03:00:00Z", "title": video_id, "description": ""},
                "contentDetails": {"duration": "PT4M13S"},
                "statistics": {"viewCount": "100", "likeCount": "5", "commentCount": "1"},
            }
            for video_id in batch
        ]
        query = {"part": "snippet,statistics,contentDetails", "id": ",".join(batch), "key": TOKEN}
        expect(server, "/youtube/v3/videos", query).respond_with_json(
            {"kind": "youtube#videoListResponse", "items": videos}
        )

    documents = list(make_source().pull(SEPTEMBER, "youtube", [account("youtube", "VisitNanjing", "UC1")]))

    assert shape(documents) == [
        ("channel", 1),
        ("playlist_items", 1),
        ("playlist_items", 2),
        ("videos", 1),
        ("videos", 2),
    ]
    assert [q.get("pageToken") for q in queries_to(server, "/youtube/v3/playlistItems")] == [None, "p1"]
    assert [q["id"].split(",") for q in queries_to(server, "/youtube/v3/videos")] == [
        video_ids[:50],
        video_ids[50:],
    ]
    assert all("key=" not in doc.request_url for doc in documents)
    assert_parses_cleanly([doc for doc in documents if doc.endpoint != "playlist_items"])


def test_a_channel_gone_or_without_uploads_gives_just_the_channel(server, make_source):
    channel_query = {"part": "snippet,statistics,contentDetails", "key": TOKEN}
    expect(server, "/youtube/v3/channels", {**channel_query, "id": "UCgone"}).respond_with_json({"items": []})
    uploads = {"contentDetails": {"relatedPlaylists": {"uploads": "UUempty"}}, "id": "UCempty"}
    expect(server, "/youtube/v3/channels", {**channel_query, "id": "UCempty"}).respond_with_json(
        {"items": [uploads]}
    )
    not_found = {
        "error": {"code": 404, "message": "Playlist not found", "errors": [{"reason": "playlistNotFound"}]}
    }
    expect(server, "/youtube/v3/playlistItems").respond_with_json(not_found, status=404)
    accounts = [account("youtube", "Gone", "UCgone"), account("youtube", "Empty", "UCempty")]
    documents = list(make_source().pull(SEPTEMBER, "youtube", accounts))
    assert [(d.account_handle, d.endpoint) for d in documents] == [("Gone", "channel"), ("Empty", "channel")]


# --- a cursor that never ends: the cap on pages and bytes per account -----------------------------------------


def serve_endless_posts(server: HTTPServer, page_id: str = "104") -> str:
    """A posts edge that hands out a new cursor with every page, forever."""
    path = f"/v21.0/{page_id}/published_posts"

    def respond(request: Request) -> Response:
        number = int(request.args.get("after", "c0")[1:]) + 1
        payload = {
            "data": [facebook_post(f"{page_id}_{number}", "2024-09-12T08:00:00+0000")],
            "paging": {"next": f"{base_of(server)}{path}?access_token={TOKEN}&after=c{number}"},
        }
        return Response(json.dumps(payload), content_type=JSON)

    expect(server, path).respond_with_handler(respond)
    return path


@pytest.mark.parametrize(
    ("variable", "value", "over"),
    [(MAX_PAGES_VARIABLE, "5", "more than 5 pages"), (MAX_BYTES_VARIABLE, "4000", "more than 4000 bytes")],
)
def test_a_cursor_that_never_ends_stops_its_account_at_the_cap_and_blocks_the_month(
    server, make_source, tmp_path, variable, value, over
):
    serve_facebook_page(server)
    endless = serve_endless_posts(server)
    serve_facebook_page(server, "105")
    serve_facebook_posts(server, [[]], "105")
    accounts = [account("facebook", "VisitNanjing", "104"), account("facebook", "NanjingRelease", "105")]
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema()

    source = make_source(environ={**ENVIRON, variable: value})
    summary = pull_month(source, warehouse, SEPTEMBER, "facebook", accounts, run_id="run-1")

    (problem,) = summary.problems
    asked = len(queries_to(server, endless))
    assert problem["account_handle"] == "VisitNanjing"
    assert f"facebook account VisitNanjing (104) stopped at posts page {asked}: {over}" in problem["reason"]
    assert f"the cap per account ({variable})" in problem["reason"]
    assert TOKEN not in problem["reason"] + problem["location"]
    stored = warehouse.raw_documents(SEPTEMBER, "facebook")
    kept = stored.filter(pl.col("account_handle") == "VisitNanjing")["endpoint"].to_list()
    assert kept == ["page"] + ["posts"] * asked, "every page fetched is kept, none asked past the cap"
    assert stored.filter(pl.col("account_handle") == "NanjingRelease")["endpoint"].to_list() == [
        "page",
        "posts",
    ]
    assert warehouse.unfinished_pull(SEPTEMBER, "facebook", "api") is None, "the pull went on to the end"

    active = pl.DataFrame([{"platform": "facebook", "city_id": "nanjing", "account_handle": a.account_handle}
                           for a in accounts])  # fmt: skip
    finding = drop_complete(
        "facebook",
        SEPTEMBER,
        active,
        read_pull("facebook", stored)[1],
        warehouse.source_problems(summary.pull_id),
    )
    assert not finding.passed
    first = finding.sample[0]
    assert (first["account_handle"], first["missing"]) == (
        "VisitNanjing",
        f"posts page {asked + 1} (paging.next of page {asked})",
    )
    assert first["recorded_problem"] == problem["reason"], "the gap says why the pull stopped"


def test_the_caps_default_far_above_a_month_and_refuse_what_is_not_a_count(make_source):
    assert make_source(environ={}).cap == AccountCap(500, 100_000_000)
    for wrong in ("lots", "0", "-3"):
        with pytest.raises(SourceError, match=f"{MAX_PAGES_VARIABLE} must be a whole number"):
            ApiSource(environ={MAX_PAGES_VARIABLE: wrong})
