"""X API v2: the user by username, then the user's posts of the month."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.api.auth import Auth
from cityindex_pipeline.sources.api.http import LOGGER, Http
from cityindex_pipeline.sources.api.responses import Fetched
from cityindex_pipeline.sources.api.urls import build_url
from cityindex_pipeline.sources.base import SourceError

USER_FIELDS = "created_at,public_metrics"
TWEET_PARAMS = {
    "max_results": "100",
    "tweet.fields": "created_at,public_metrics,entities,attachments",
    "expansions": "attachments.media_keys",
    "media.fields": "type,public_metrics",
}
_TIME = "%Y-%m-%dT%H:%M:%SZ"


class XApi:
    """Partial errors (HTTP 200 with `errors` beside `data`) are documents: the parser records them."""

    def __init__(self, http: Http, auth: Auth, base_url: str) -> None:
        self.http = http
        self.auth = auth
        self.base_url = base_url

    def documents(self, account: Account, month: Month) -> Iterator[Fetched]:
        handle = quote(account.account_handle, safe="")
        user = self.http.get(
            build_url(self.base_url, f"/2/users/by/username/{handle}", {"user.fields": USER_FIELDS}),
            self.auth,
        )
        yield "user", user
        data = user.json_object().get("data")
        user_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(user_id, str):
            LOGGER.warning("X user %s not found: no posts pulled for it", account.account_handle)
            return
        yield from self._tweets(user_id, month)

    def _tweets(self, user_id: str, month: Month) -> Iterator[Fetched]:
        """Pages of 100, following `meta.next_token` via `pagination_token`."""
        base = {
            "start_time": month.start_utc.strftime(_TIME),
            "end_time": month.end_utc.strftime(_TIME),
            **TWEET_PARAMS,
        }
        seen: set[str] = set()
        token: str | None = None
        while True:
            params = {**base, **({"pagination_token": token} if token else {})}
            response = self.http.get(
                build_url(self.base_url, f"/2/users/{user_id}/tweets", params), self.auth
            )
            yield "tweets", response
            meta = response.json_object().get("meta")
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if not isinstance(token, str) or not token:
                return
            if token in seen:
                raise SourceError(
                    f"X next_token {token} repeats for user {user_id}: the cursor does not advance"
                )
            seen.add(token)
