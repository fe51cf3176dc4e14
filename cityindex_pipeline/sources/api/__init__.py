"""`CITYINDEX_SOURCE=api`: the platforms' own APIs, requested live, documents as received.

Tokens come from the environment and are checked when their platform is pulled, so one missing token
stops only that platform. Bodies are stored verbatim except that the token is redacted; request URLs are
stored without it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import api_settings_from_env
from cityindex_pipeline.core.variables import MAX_BYTES_VARIABLE, MAX_PAGES_VARIABLE
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.api.auth import Auth
from cityindex_pipeline.sources.api.errors import ApiError
from cityindex_pipeline.sources.api.facebook import FACEBOOK_METRICS, FacebookApi, GraphApi
from cityindex_pipeline.sources.api.http import LOGGER, Http
from cityindex_pipeline.sources.api.instagram import INSTAGRAM_METRICS, InstagramApi
from cityindex_pipeline.sources.api.responses import Fetched
from cityindex_pipeline.sources.api.x import XApi
from cityindex_pipeline.sources.api.youtube import YouTubeApi
from cityindex_pipeline.sources.base import MissingCredentialsError, RawDocument, SourceError, SourceProblem

TOKEN_VARIABLES = {
    "facebook": "FACEBOOK_ACCESS_TOKEN",
    "instagram": "INSTAGRAM_ACCESS_TOKEN",
    "x": "X_BEARER_TOKEN",
    "youtube": "YOUTUBE_API_KEY",
}


class PlatformApi(Protocol):
    def documents(self, account: Account, month: Month) -> Iterator[Fetched]:
        """One account's responses for the month, endpoint by endpoint in ENDPOINTS order."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ApiSource:
    """The live platform APIs behind the same `pull` as the simulated and landing-folder sources."""

    name = "api"

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        graph_version: str | None = None,
        base_urls: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 5,
        clock: Callable[[], datetime] = _utc_now,
        max_pages: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.environ = os.environ if environ is None else environ  # the tokens, read when pulled
        try:
            settings = api_settings_from_env(self.environ)
        except ValueError as error:
            raise SourceError(str(error)) from None
        self.cap = AccountCap(max_pages or settings.max_pages, max_bytes or settings.max_bytes)
        self.graph_version = graph_version or settings.graph_version
        self.base_urls = {
            platform: (base_urls or {}).get(platform) or url for platform, url in settings.base_urls.items()
        }
        self.clock = clock
        self.http = Http(client, sleep=sleep, clock=clock, max_retries=max_retries)
        self._apis: dict[str, PlatformApi] = {}

    def close(self) -> None:
        self.http.close()

    def pull(
        self, month: Month, platform: str, accounts: Iterable[Account]
    ) -> Iterator[RawDocument | SourceProblem]:
        """Each active account's documents, endpoint by endpoint, pages counted from 1.

        The token is checked here, before the first request: a missing one raises at once. An
        account the platform says is gone (404, Graph #803 or #100/33) becomes a source problem with
        the error body, and the pull goes on; any other error stops the pull, which a later run
        resumes after the accounts already stored. An account's documents are yielded only once all
        of them were fetched, so an account is never stored half-pulled, except one stopped at the cap on pages or
        bytes per account (`AccountCap`): its pages so far are kept, with a source problem saying why.
        """
        api = self._api(platform)
        return self._documents(api, month, platform, list(accounts))

    def _documents(
        self, api: PlatformApi, month: Month, platform: str, accounts: list[Account]
    ) -> Iterator[RawDocument | SourceProblem]:
        for account in accounts:
            if account.platform != platform:
                raise ValueError(f"account {account.account_handle} is on {account.platform}, not {platform}")
            if not account.active_in(month):
                continue
            try:
                fetched, capped = self.cap.fetch(api.documents(account, month), platform, account)
            except ApiError as error:
                if not error.account_missing:
                    raise
                yield SourceProblem(
                    platform=platform,
                    account_handle=account.account_handle,
                    location=error.url,
                    reason=f"{platform} account {account.account_handle} "
                    f"({account.platform_account_id}) unavailable: {error}",
                    content=error.body.encode("utf-8"),
                )
                continue
            pages: dict[str, int] = {}
            for endpoint, response in fetched:
                pages[endpoint] = pages.get(endpoint, 0) + 1
                yield RawDocument(
                    month=month,
                    platform=platform,
                    account_handle=account.account_handle,
                    endpoint=endpoint,
                    page=pages[endpoint],
                    body=response.text,
                    request_url=response.url,
                    fetched_at=response.fetched_at,
                    source=self.name,
                )
            if capped is not None:
                yield capped

    def _api(self, platform: str) -> PlatformApi:
        """One client per platform, built on first use (it keeps the working insights metric set)."""
        if platform not in TOKEN_VARIABLES:
            raise ValueError(f"unknown platform {platform!r}")
        if platform not in self._apis:
            self._apis[platform] = self._build(platform, self._token(platform))
        return self._apis[platform]

    def _token(self, platform: str) -> str:
        variable = TOKEN_VARIABLES[platform]
        token = (self.environ.get(variable) or "").strip()
        if not token:
            raise MissingCredentialsError(
                f"{variable} is not set: the {platform} API needs it. Export it, or pull {platform} "
                "from another source (CITYINDEX_SOURCE=files or simulated)"
            )
        return token

    def _build(self, platform: str, token: str) -> PlatformApi:
        base_url = self.base_urls[platform]
        variable = TOKEN_VARIABLES[platform]
        if platform == "x":
            return XApi(self.http, Auth.bearer(token, variable, base_url), base_url)
        if platform == "youtube":
            return YouTubeApi(self.http, Auth.query("key", token, variable, base_url), base_url)
        metrics, kind = (
            (FACEBOOK_METRICS, FacebookApi) if platform == "facebook" else (INSTAGRAM_METRICS, InstagramApi)
        )
        graph = GraphApi(
            self.http,
            Auth.query("access_token", token, variable, base_url),
            base_url,
            self.graph_version,
            metrics,
            today=lambda: self.clock().astimezone(UTC).date(),
        )
        return kind(graph)


@dataclass(frozen=True)
class AccountCap:
    """The most pages and bytes one account's month may take: past either, the account stops.

    A server that hands out a new cursor forever would otherwise page until memory or quota runs
    out. The account stops, not the platform's pull: the other accounts are still pulled, the pages
    fetched are kept (nothing lost) with a source problem naming the account, and `drop_complete`
    then blocks the month naming what is missing, which an override with its reason can still
    publish. Stopping the pull instead would only stop it again at every run.
    """

    max_pages: int
    max_bytes: int

    def fetch(
        self, responses: Iterator[Fetched], platform: str, account: Account
    ) -> tuple[list[Fetched], SourceProblem | None]:
        """The account's responses, up to the first that takes it past a cap (kept), and the problem."""
        fetched: list[Fetched] = []
        size = 0
        for endpoint, response in responses:
            fetched.append((endpoint, response))
            size += len(response.text.encode("utf-8"))
            over = self._over(len(fetched), size)
            if over:
                close = getattr(responses, "close", None)
                if close is not None:
                    close()  # a generator: no further request is made
                page = sum(1 for name, _ in fetched if name == endpoint)
                reason = (
                    f"{platform} account {account.account_handle} ({account.platform_account_id}) stopped at "
                    f"{endpoint} page {page}: {over}. A cursor that does not end? The {len(fetched)} "
                    "responses fetched are kept; the month is not published until the account is pulled "
                    "whole (raise the cap if its month really is that large), or is published over it "
                    "with --override-errors"
                )
                LOGGER.warning(reason)
                return fetched, SourceProblem(platform, account.account_handle, response.url, reason)
        return fetched, None

    def _over(self, pages: int, size: int) -> str:
        """Which cap the account has gone past, with its variable, or empty."""
        if pages > self.max_pages:
            return f"more than {self.max_pages} pages, the cap per account ({MAX_PAGES_VARIABLE})"
        if size > self.max_bytes:
            return f"more than {self.max_bytes} bytes, the cap per account ({MAX_BYTES_VARIABLE})"
        return ""


__all__ = ["ApiSource"]
