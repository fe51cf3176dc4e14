"""The API source tests' local server: accounts, what it serves (the simulator's documents, Graph
pages, posts and insights, an X user), and how a test asks what was requested."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from pytest_httpserver import HTTPServer
from pytest_httpserver.httpserver import HandlerType, RequestHandler

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.parsing import parse_document
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.base import REDACTED, RawDocument
from cityindex_pipeline.sources.simulated.facebook import FB_POST_FIELDS

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


class Sleeps(list):
    """The injected sleep: records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


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


def serve_x(server: HTTPServer, tweets: dict[str, Any] | None = None) -> None:
    expect(server, X_USER_PATH, headers=X_HEADERS).respond_with_json(X_USER)
    expect(server, "/2/users/42/tweets", headers=X_HEADERS).respond_with_json(
        tweets or {"meta": {"result_count": 0}}
    )


def pull_x(make_source, **overrides: Any) -> list[RawDocument]:
    return list(make_source(**overrides).pull(SEPTEMBER, "x", [account("x", "VisitNanjing", "42")]))
