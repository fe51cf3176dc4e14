"""What the API source does alike for every platform, against a local server: a full pull, the token
kept out of everything stored or logged, rate limits and retries, errors, configuration, the caps."""

from __future__ import annotations

import json
import logging
import socket
from datetime import date
from urllib.parse import urlencode

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from support.api_server import (
    ENVIRON,
    JSON,
    NOW,
    PAGE_FIELDS,
    SEPTEMBER,
    SINCE,
    TOKEN,
    UNTIL,
    X_USER_PATH,
    account,
    assert_parses_cleanly,
    base_of,
    expect,
    facebook_post,
    pull_x,
    queries_to,
    serve_facebook_page,
    serve_facebook_posts,
    serve_simulated,
    serve_x,
    shape,
)
from werkzeug import Request, Response

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.quality.completeness import drop_complete
from cityindex_pipeline.quality.pull_structure import read_pull
from cityindex_pipeline.reference.registry import Account, load_registry
from cityindex_pipeline.sources.api import MAX_BYTES_VARIABLE, MAX_PAGES_VARIABLE, AccountCap, ApiSource
from cityindex_pipeline.sources.base import (
    ENDPOINTS,
    REDACTED,
    MissingCredentialsError,
    SourceError,
    SourceProblem,
)
from cityindex_pipeline.sources.ingest import pull_month
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.sources.simulated.facebook import FB_POST_FIELDS
from cityindex_pipeline.warehouse.store import Warehouse

# --- a full pull per platform, re-serving the simulator's documents -----------------------------------------


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


# --- the token: redacted where it is echoed, sent only where it belongs -------------------------------------


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


def test_a_next_url_on_another_host_never_gets_the_token(server, make_source):
    serve_facebook_page(server)
    elsewhere = f"https://example.com/v21.0/104/published_posts?after=x&access_token={TOKEN}"
    expect(server, "/v21.0/104/published_posts").respond_with_json(
        {"data": [], "paging": {"next": elsewhere}}
    )
    with pytest.raises(SourceError, match=r"refusing to send FACEBOOK_ACCESS_TOKEN to https://example\.com"):
        list(make_source().pull(SEPTEMBER, "facebook", [account("facebook", "VisitNanjing", "104")]))


# --- rate limits and retries --------------------------------------------------------------------------------


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


# --- errors: a request refused, an account gone -------------------------------------------------------------


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


# --- credentials and configuration --------------------------------------------------------------------------


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


# --- a cursor that never ends: the cap on pages and bytes per account ---------------------------------------


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
