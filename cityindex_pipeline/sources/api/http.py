"""The one HTTP client of the live sources: retries, rate limits, quotas, and keeping secrets out.

Platform modules build clean URLs (no token in them, `urls`) and call `Http.get`; this client adds the
secret the way the platform expects it (`auth`), waits and retries where waiting helps, stops where it
cannot (`errors`), and redacts the secret from every body, message and log line before anything leaves it.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from cityindex_pipeline.parsing.document import DocumentError, read_strict_json
from cityindex_pipeline.sources.api.auth import HTTPX_LOG_FILTER, Auth
from cityindex_pipeline.sources.api.errors import ApiError, error_body
from cityindex_pipeline.sources.api.responses import Response
from cityindex_pipeline.sources.api.urls import carries_secret, origin_of, with_params
from cityindex_pipeline.sources.base import QuotaExceededError, SourceError

LOGGER = logging.getLogger("cityindex.api")

TIMEOUT_SECONDS = 30.0
MAX_WAIT_SECONDS = 15 * 60
"""Longest wait for a rate limit to reset; beyond it the pull stops and a later run resumes it."""
RESET_MARGIN_SECONDS = 1.0
"""Reset times have one-second granularity: wait a little past them."""
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0

GRAPH_THROTTLING_CODES = frozenset({4, 17, 32, 613, 80001, 80002})
"""Graph API error codes for app, user, page and business-use-case rate limits: waiting helps."""
GRAPH_USAGE_HEADERS = ("x-business-use-case-usage", "x-app-usage", "x-page-usage")
YOUTUBE_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
"""The daily quota is spent: it resets at midnight Pacific time, so retrying now is pointless."""
YOUTUBE_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
"""Short-term limits: backing off helps."""


@dataclass(frozen=True)
class _Retry:
    """An attempt that failed in a way that waiting may fix; `wait` None means exponential backoff."""

    reason: str
    wait: float | None = None


class Http:
    """One `httpx.Client` for every platform; all waiting goes through `sleep`, so tests run instantly."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_retries: int = 5,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self._owned = client is None
        self.client = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        self.sleep = sleep
        self.clock = clock
        self.max_retries = max_retries
        self.jitter = jitter
        if HTTPX_LOG_FILTER not in logging.getLogger("httpx").filters:
            logging.getLogger("httpx").addFilter(HTTPX_LOG_FILTER)

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def get(self, url: str, auth: Auth) -> Response:
        """GET `url` (which carries no secret) with `auth` added; retry what waiting can fix."""
        HTTPX_LOG_FILTER.secrets.update(auth.secrets)
        if carries_secret(url):
            raise ValueError("build URLs without secrets: the HTTP layer adds them")
        if origin_of(url) != auth.origin:
            raise SourceError(f"refusing to send {auth.variable} to {origin_of(url)}: expected {auth.origin}")
        target = with_params(url, dict(auth.params))
        for attempt in range(self.max_retries + 1):
            outcome = self._attempt(url, target, auth)
            if isinstance(outcome, Response):
                return outcome
            if attempt == self.max_retries:
                raise SourceError(
                    f"GET {url} failed after {attempt + 1} attempts: {auth.redact(outcome.reason)}"
                )
            wait = outcome.wait if outcome.wait is not None else self._backoff(attempt)
            LOGGER.warning(
                "GET %s: %s; retry %d of %d in %.1f s",
                url,
                auth.redact(outcome.reason),
                attempt + 1,
                self.max_retries,
                wait,
            )
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, url: str, target: str, auth: Auth) -> Response | _Retry:
        started = time.perf_counter()
        try:
            response = self.client.get(target, headers=dict(auth.headers))
        except httpx.UnsupportedProtocol as error:
            raise SourceError(f"GET {url}: {auth.redact(str(error))}") from None
        except httpx.TransportError as error:
            LOGGER.debug("GET %s -> %s (%.2f s)", url, type(error).__name__, time.perf_counter() - started)
            return _Retry(f"{type(error).__name__}: {auth.redact(str(error))}")
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise SourceError(f"GET {url}: {type(error).__name__}: {auth.redact(str(error))}") from None
        fetched_at = self.clock().astimezone(UTC)
        LOGGER.debug("GET %s -> %d (%.2f s)", url, response.status_code, time.perf_counter() - started)
        text = auth.redact(response.text)
        if 200 <= response.status_code < 300:
            return Response(url, response.status_code, text, fetched_at)
        return self._failure(url, response.status_code, response.headers, text, auth)

    def _failure(self, url: str, status: int, headers: httpx.Headers, text: str, auth: Auth) -> _Retry:
        """Decide what an error response means: wait and retry, or stop with the platform's message."""
        error = error_body(text)
        described = f"HTTP {status}" + (f" (code {error.code})" if error.code is not None else "")
        if status == 429:
            return _Retry(f"{described} rate limited", self._rate_limit_wait(headers))
        if status in (400, 403) and error.code in GRAPH_THROTTLING_CODES:
            return _Retry(f"{described} throttled: {error.message}", self._graph_wait(headers))
        if status == 403 and error.reasons & YOUTUBE_QUOTA_REASONS:
            reason = sorted(error.reasons & YOUTUBE_QUOTA_REASONS)[0]
            raise QuotaExceededError(
                f"the {auth.variable} quota is spent ({reason}): it resets at midnight Pacific time; "
                f"accounts already stored are kept and the next run resumes after them. {error.message}"
            )
        if status == 403 and error.reasons & YOUTUBE_RATE_REASONS:
            return _Retry(f"{described} {error.message}")
        if status >= 500:
            return _Retry(f"{described} {error.message}")
        hint = f" (check {auth.variable})" if status == 401 or error.code == 190 else ""
        raise ApiError(
            f"{described} from GET {url}: {error.message}{hint}",
            status=status,
            code=error.code,
            detail=error.message,
            subcode=error.subcode,
            url=url,
            body=text,
        )

    def _backoff(self, attempt: int) -> float:
        """Bounded exponential backoff; the jitter keeps parallel pulls from retrying in step."""
        return (
            min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt) + BACKOFF_BASE_SECONDS * self.jitter()
        )

    def _rate_limit_wait(self, headers: httpx.Headers) -> float | None:
        """Until `x-rate-limit-reset` (X: epoch seconds), else `retry-after`, else backoff."""
        now = self.clock()
        reset = _number(headers.get("x-rate-limit-reset"))
        if reset is not None:
            return self._bounded(max(0.0, reset - now.timestamp()), margin=RESET_MARGIN_SECONDS)
        retry_after = headers.get("retry-after") or ""
        seconds = _number(retry_after)
        if seconds is None and retry_after:
            try:
                seconds = (parsedate_to_datetime(retry_after) - now).total_seconds()
            except (TypeError, ValueError):
                return None
        return None if seconds is None else self._bounded(max(0.0, seconds))

    def _graph_wait(self, headers: httpx.Headers) -> float | None:
        """The usage headers' `estimated_time_to_regain_access` (minutes), else backoff."""
        minutes = max(
            (value for name in GRAPH_USAGE_HEADERS for value in _regain_minutes(headers.get(name))),
            default=0.0,
        )
        return self._bounded(minutes * 60) if minutes > 0 else None

    def _bounded(self, seconds: float, margin: float = 0.0) -> float:
        """Wait up to 15 minutes; a longer limit stops the pull, saying when to run again."""
        if seconds <= MAX_WAIT_SECONDS:
            return seconds + margin
        try:
            until = f"{self.clock().astimezone(UTC) + timedelta(seconds=seconds):%Y-%m-%d %H:%M:%S} UTC"
        except (OverflowError, ValueError):
            until = "further than a date can say"
        raise SourceError(
            f"rate limited until {until} ({seconds / 60:.0f} minutes): "
            "run again then; accounts already stored are kept"
        )


def _regain_minutes(header: str | None) -> Iterator[float]:
    """Every `estimated_time_to_regain_access` in a Graph usage header, however nested."""
    if not header:
        return
    try:
        stack: list[Any] = [read_strict_json(header)]
    except DocumentError:
        return
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            value = _number(item.get("estimated_time_to_regain_access"))
            if value is not None:
                yield value
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) else None
