"""The one HTTP layer of the live sources: retries, rate limits, quotas, and keeping secrets out.

Platform modules build clean URLs (no token in them) and call `Http.get`; this layer adds the secret the
way the platform expects it, waits and retries where waiting helps, stops where it cannot, and redacts the
secret from every body, message and log line before anything leaves it.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus, urlencode, urlsplit, urlunsplit

import httpx

from cityindex_pipeline.parsing.common import RecordError, timestamp
from cityindex_pipeline.parsing.document import DocumentError, read_strict_json
from cityindex_pipeline.sources.base import QuotaExceededError, SourceError, redact

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
SECRET_PARAMETERS = frozenset({"access_token", "key", "client_secret", "appsecret_proof"})
URL_SAFE = ",():."
"""Kept literal in queries, as the platforms' own URLs (and the simulator's) write them."""


@dataclass(frozen=True)
class Auth:
    """One platform's secret, how it travels, and where it may be sent."""

    secret: str
    variable: str
    origin: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def query(cls, name: str, secret: str, variable: str, base_url: str) -> Auth:
        """A token in the query string (Graph API `access_token`, YouTube `key`)."""
        return cls(secret, variable, origin_of(base_url), params=((name, secret),))

    @classmethod
    def bearer(cls, secret: str, variable: str, base_url: str) -> Auth:
        """A token in the `Authorization` header (X API v2)."""
        return cls(secret, variable, origin_of(base_url), headers=(("Authorization", f"Bearer {secret}"),))

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret as sent and as it may be echoed back, percent-encoded (in `paging.next`)."""
        return tuple(dict.fromkeys((self.secret, quote(self.secret, safe=""), quote_plus(self.secret))))

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)


@dataclass(frozen=True)
class Response:
    """A successful response: the URL without its secret, the body with the secret redacted."""

    url: str
    status: int
    text: str
    fetched_at: datetime

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, or empty: the parsers judge bad bodies, the pull only steers by it."""
        return json_object(self.text)


Fetched = tuple[str, Response]
"""An endpoint name and one response of it, in the order a pull made them."""


GRAPH_MISSING_OBJECT_CODES = frozenset({803})
"""Graph `(#803) Some of the aliases you requested do not exist`."""
GRAPH_MISSING_OBJECT_SUBCODES = frozenset({33})
"""Graph code 100, subcode 33: `Object with ID ... does not exist, cannot be loaded due to missing
permissions, or does not support this operation`."""


class ApiError(SourceError):
    """A response that waiting will not fix; keeps the platform's error code for callers that recover.

    `url` carries no secret and `body` is redacted: both may be stored as a source problem.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: int | None = None,
        detail: str = "",
        subcode: int | None = None,
        url: str = "",
        body: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.detail = detail
        self.subcode = subcode
        self.url = url
        self.body = body

    @property
    def account_missing(self) -> bool:
        """The account (page, IG user, channel) is gone or out of reach, not the token or the request:
        that account is recorded as a problem and the pull goes on with the others."""
        if self.status == 404:
            return True
        return self.status == 400 and (
            self.code in GRAPH_MISSING_OBJECT_CODES
            or (self.code == 100 and self.subcode in GRAPH_MISSING_OBJECT_SUBCODES)
        )


@dataclass(frozen=True)
class _ErrorBody:
    code: int | None
    message: str
    reasons: frozenset[str]
    subcode: int | None = None


@dataclass(frozen=True)
class _Retry:
    """An attempt that failed in a way that waiting may fix; `wait` None means exponential backoff."""

    reason: str
    wait: float | None = None


class _RedactingFilter(logging.Filter):
    """httpx logs every request URL at INFO, Graph and YouTube tokens included: redact them there too."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message, self.secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_LOG_FILTER = _RedactingFilter()


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
        if _LOG_FILTER not in logging.getLogger("httpx").filters:
            logging.getLogger("httpx").addFilter(_LOG_FILTER)

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def get(self, url: str, auth: Auth) -> Response:
        """GET `url` (which carries no secret) with `auth` added; retry what waiting can fix."""
        _LOG_FILTER.secrets.update(auth.secrets)
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
        error = _error_body(text)
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


# --- URLs -------------------------------------------------------------------------------------------


def build_url(base: str, path: str, params: dict[str, str]) -> str:
    """`base` + `path` + the query, encoded as the platforms write it (commas and brackets literal)."""
    return f"{base.rstrip('/')}{path}?{urlencode(params, safe=URL_SAFE)}"


def with_params(url: str, params: dict[str, str]) -> str:
    if not params:
        return url
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params, safe=URL_SAFE)}"


def without_params(url: str, names: Iterable[str]) -> str:
    """Drop query parameters by name, keeping the rest exactly as written (a `paging.next` URL)."""
    dropped = {name.lower() for name in names}
    parts = urlsplit(url)
    kept = [part for part in parts.query.split("&") if part and _name(part) not in dropped]
    return urlunsplit(parts._replace(query="&".join(kept)))


def carries_secret(url: str) -> bool:
    return any(_name(part) in SECRET_PARAMETERS for part in urlsplit(url).query.split("&"))


def _name(part: str) -> str:
    return unquote_plus(part.split("=", 1)[0]).lower()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


# --- reading bodies just enough to steer a pull -----------------------------------------------------


def json_object(text: str) -> dict[str, Any]:
    """Read as every reading is (`parsing/document.py`): what is not strict JSON steers nothing."""
    try:
        payload = read_strict_json(text)
    except DocumentError:
        return {}
    return payload if isinstance(payload, dict) else {}


def moment(value: Any) -> datetime | None:
    """A platform timestamp as aware UTC, or None when absent or unreadable."""
    try:
        return timestamp(value, "time")
    except RecordError:
        return None


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error_body(text: str) -> _ErrorBody:
    """The error as Graph (`error.code`), Google (`error.errors[].reason`) or X (`errors`, `detail`) give it."""
    payload = json_object(text)
    error = payload.get("error")
    if isinstance(error, dict):
        items = error.get("errors") if isinstance(error.get("errors"), list) else []
        reasons = frozenset(str(item.get("reason")) for item in items if isinstance(item, dict))
        code, subcode = error.get("code"), error.get("error_subcode")
        return _ErrorBody(
            code if isinstance(code, int) else None,
            str(error.get("message", "")),
            reasons,
            subcode if isinstance(subcode, int) else None,
        )
    errors = payload.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code = first.get("code")
        message = first.get("message") or first.get("detail") or first.get("title") or ""
        return _ErrorBody(code if isinstance(code, int) else None, str(message), frozenset())
    if payload.get("detail") or payload.get("title"):
        return _ErrorBody(None, str(payload.get("detail") or payload.get("title")), frozenset())
    return _ErrorBody(None, " ".join(text.split())[:200], frozenset())


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
