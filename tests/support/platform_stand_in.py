"""A local stand-in for the four platform APIs, answering from a landing folder.

It routes each request the way the real service would (by page, IG user, username or channel id,
by cursor, by the ids of a lookup), checks the credential the way each platform expects it, and
refuses an insights request for metrics its stored answer does not have, as the Graph API refuses a
retired metric. So the API source can be run against the very documents a landing folder holds.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Registry

GRAPH_PATH = re.compile(r"^/(v\d+\.\d+)/([^/]*)(?:/([a-z_]+))?$")
FILE_NAME = re.compile(r"^(?P<endpoint>[a-z_]+)(?:-(?P<page>\d+))?\.json$")
JSON = "application/json; charset=UTF-8"


class PlatformStandIn:
    def __init__(
        self,
        server: HTTPServer,
        landing_dir: Path,
        month: Month,
        registry: Registry,
        token: str,
        faults: dict[str, list[int | None]] | None = None,
    ):
        """`faults`: for a request path, what to answer to its first requests, in order: None is the
        real answer, 429 a rate limit with its reset header, 403 YouTube's spent quota, 5xx an error
        body that echoes the credential; then real answers."""
        self.server = server
        self.faults = {path: list(statuses) for path, statuses in (faults or {}).items()}
        self.token = token
        self.base = server.url_for("").rstrip("/")
        self.pages: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        self.by_id: dict[tuple[str, str], str] = {}
        for platform in ("facebook", "instagram", "x", "youtube"):
            for account in registry.accounts_for(platform):
                self.by_id[(platform, account.platform_account_id)] = account.account_handle
                folder = landing_dir / platform / str(month) / account.account_handle
                named = [(FILE_NAME.match(path.name), path) for path in folder.glob("*.json")]
                for match, path in sorted(
                    ((m, p) for m, p in named if m), key=lambda item: int(item[0]["page"] or 1)
                ):
                    self.pages[(platform, account.account_handle, match["endpoint"])].append(
                        path.read_text(encoding="utf-8")
                    )
        self.requests = 0

    def install(self) -> PlatformStandIn:
        self.server.expect_request(re.compile(r"^/.*")).respond_with_handler(self.respond)
        return self

    def respond(self, request: Request) -> Response:
        self.requests += 1
        pending = self.faults.get(request.path)
        status = pending.pop(0) if pending else None
        if status is not None:
            return self._fault(status, request)
        args = dict(parse_qsl(request.query_string.decode("utf-8"), keep_blank_values=True))
        if request.path.startswith("/2/"):
            return self._x(request, args)
        if request.path.startswith("/youtube/v3/"):
            return self._youtube(request.path, args)
        match = GRAPH_PATH.match(request.path)
        if match:
            return self._graph(match[2], match[3], args)
        return _error(404, {"error": {"message": f"no route for {request.path}", "code": 803}})

    # --- Graph API -------------------------------------------------------------------------------------

    def _graph(self, object_id: str, edge: str | None, args: dict[str, str]) -> Response:
        if args.get("access_token") != self.token:
            return _graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if not object_id and "ids" in args:
            return self._insights(args)
        platform, handle = self._graph_owner(object_id)
        if handle is None:
            return _graph_error(400, 100, f"Object with ID '{object_id}' does not exist", subcode=33)
        if edge is None:
            return self._body(platform, handle, "page" if platform == "facebook" else "user", 0)
        endpoint = {"published_posts": "posts", "media": "media"}.get(edge)
        if endpoint is None:
            return _graph_error(400, 100, f"Tried accessing nonexisting field ({edge})")
        pages = self.pages[(platform, handle, endpoint)]
        index = 0
        if "after" in args:
            cursors = [_after(json.loads(body)) for body in pages]
            if args["after"] not in cursors:
                return _graph_error(400, 100, "Invalid cursor")
            index = cursors.index(args["after"]) + 1
        return self._body(platform, handle, endpoint, index, next_with_token=True)

    def _graph_owner(self, object_id: str) -> tuple[str, str | None]:
        for platform in ("facebook", "instagram"):
            if (platform, object_id) in self.by_id:
                return platform, self.by_id[(platform, object_id)]
        return "facebook", None

    def _insights(self, args: dict[str, str]) -> Response:
        requested_ids = set(args["ids"].split(","))
        requested_metrics = set(
            re.findall(r"insights\.metric\(([^)]*)\)", args.get("fields", ""))[0].split(",")
        )
        for (_platform, _handle, endpoint), pages in self.pages.items():
            if endpoint not in ("post_insights", "media_insights"):
                continue
            for body in pages:
                payload = json.loads(body)
                if set(payload) != requested_ids:
                    continue
                given = {metric["name"] for entry in payload.values() for metric in entry["insights"]["data"]}
                if not given <= requested_metrics:
                    return _graph_error(400, 100, "(#100) The value must be a valid insights metric")
                return Response(body, content_type=JSON)
        return _graph_error(400, 803, "(#803) Some of the aliases you requested do not exist")

    # --- X API v2 --------------------------------------------------------------------------------------

    def _x(self, request: Request, args: dict[str, str]) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, {"title": "Unauthorized", "type": "about:blank", "status": 401})
        parts = request.path.split("/")
        if request.path.startswith("/2/users/by/username/"):
            username = parts[-1].lower()
            handle = next(
                (h for (p, _id), h in self.by_id.items() if p == "x" and h.lower() == username), None
            )
            if handle is None:
                return Response(json.dumps({"errors": [{"title": "Not Found Error"}]}), content_type=JSON)
            return self._body("x", handle, "user", 0)
        if len(parts) == 5 and parts[4] == "tweets":
            handle = next(
                (
                    h
                    for (platform, h, endpoint), pages in self.pages.items()
                    if platform == "x"
                    and endpoint == "user"
                    and _dig(json.loads(pages[0]), "data", "id") == parts[3]
                ),
                None,
            )
            if handle is None:
                return _error(404, {"title": "Not Found Error", "detail": f"user {parts[3]}"})
            return self._by_token("x", handle, "tweets", args.get("pagination_token"), ("meta", "next_token"))
        return _error(404, {"title": "Not Found Error", "detail": request.path})

    # --- YouTube Data API v3 ---------------------------------------------------------------------------

    def _youtube(self, path: str, args: dict[str, str]) -> Response:
        if args.get("key") != self.token:
            return _error(
                400,
                {
                    "error": {
                        "code": 400,
                        "message": "API key not valid.",
                        "errors": [{"reason": "keyInvalid"}],
                    }
                },
            )
        resource = path.rsplit("/", 1)[-1]
        if resource == "channels":
            handle = self.by_id.get(("youtube", args.get("id", "")))
            if handle is None:
                return Response(
                    json.dumps({"kind": "youtube#channelListResponse", "items": []}), content_type=JSON
                )
            return self._body("youtube", handle, "channel", 0)
        if resource == "playlistItems":
            for (platform, handle, endpoint), pages in self.pages.items():
                uploads = _dig(
                    json.loads(pages[0]), "items", 0, "contentDetails", "relatedPlaylists", "uploads"
                )
                if platform == "youtube" and endpoint == "channel" and uploads == args.get("playlistId"):
                    return self._by_token(
                        "youtube", handle, "playlist_items", args.get("pageToken"), ("nextPageToken",)
                    )
            return _error(
                404,
                {"error": {"code": 404, "message": "playlist", "errors": [{"reason": "playlistNotFound"}]}},
            )
        if resource == "videos":
            wanted = set(args.get("id", "").split(","))
            for (platform, _handle, endpoint), pages in self.pages.items():
                for body in pages if (platform, endpoint) == ("youtube", "videos") else ():
                    if {item["id"] for item in json.loads(body)["items"]} == wanted:
                        return Response(body, content_type=JSON)
            return Response(json.dumps({"kind": "youtube#videoListResponse", "items": []}), content_type=JSON)
        return _error(404, {"error": {"code": 404, "message": path, "errors": [{"reason": "notFound"}]}})

    def _fault(self, status: int, request: Request) -> Response:
        if status == 429:
            reset = str(int(time.time()) + 1)
            return Response(
                json.dumps({"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}),
                status=429,
                content_type=JSON,
                headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": reset},
            )
        if status == 403:
            quota = {
                "code": 403,
                "message": "The request cannot be completed because you have exceeded your quota.",
            }
            return _error(
                403, {"error": {**quota, "errors": [{"reason": "quotaExceeded", "domain": "youtube.quota"}]}}
            )
        # a careless server echoes the request, credential included, into its error page
        echoed = f"{request.path}?{request.query_string.decode()} {request.headers.get('Authorization', '')}"
        return _error(status, {"error": {"code": status, "message": f"backend error serving {echoed}"}})

    # --- bodies ----------------------------------------------------------------------------------------

    def _by_token(
        self, platform: str, handle: str, endpoint: str, token: str | None, path: tuple
    ) -> Response:
        """The page after the one whose cursor (`meta.next_token`, `nextPageToken`) is `token`."""
        pages = self.pages[(platform, handle, endpoint)]
        if token is None:
            return self._body(platform, handle, endpoint, 0)
        tokens = [_dig(json.loads(body), *path) for body in pages]
        if token not in tokens:
            return _error(400, {"title": "Invalid Request", "detail": f"bad page token {token}"})
        return self._body(platform, handle, endpoint, tokens.index(token) + 1)

    def _body(
        self, platform: str, handle: str, endpoint: str, index: int, next_with_token: bool = False
    ) -> Response:
        pages = self.pages[(platform, handle, endpoint)]
        if index >= len(pages):
            return _error(
                404, {"error": {"message": f"no page {index + 1} of {endpoint} for {handle}", "code": 803}}
            )
        body = pages[index]
        if next_with_token:
            payload = json.loads(body)
            following = _dig(payload, "paging", "next")
            if isinstance(following, str):
                # the real `next` is on the API's own host and embeds the access token
                parts = urlsplit(following)
                query = [(k, v) for k, v in parse_qsl(parts.query) if k != "access_token"]
                payload["paging"]["next"] = (
                    f"{self.base}{parts.path}?{urlencode([('access_token', self.token), *query])}"
                )
                body = json.dumps(payload, ensure_ascii=False)
        return Response(body, content_type=JSON)


def _after(payload: dict[str, Any]) -> str | None:
    """The cursor a page's `next` asks for (an empty page may have a `next` but no `cursors`)."""
    following = _dig(payload, "paging", "next")
    if not isinstance(following, str):
        return None
    return dict(parse_qsl(urlsplit(following).query)).get("after")


def _dig(value: Any, *path: Any) -> Any:
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _error(status: int, payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), status=status, content_type=JSON)


def _graph_error(status: int, code: int, message: str, subcode: int | None = None) -> Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1b2"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return _error(status, {"error": error})
