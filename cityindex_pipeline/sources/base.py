"""The contract every source keeps: one month, one platform, documents exactly as received."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Protocol

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.parsing.document import MAX_PAGE, unusable_reason
from cityindex_pipeline.reference.registry import Account

_SECRET_PARAMETER = re.compile(r"[?&](access_token|key|client_secret)=", re.IGNORECASE)

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "facebook": ("page", "posts", "post_insights"),
    "instagram": ("user", "media", "media_insights"),
    "x": ("user", "tweets"),
    "youtube": ("channel", "playlist_items", "videos"),
}
"""Endpoints per platform, in the order a pull requests them (the landing-folder names)."""


@dataclass(frozen=True)
class RawDocument:
    """One response body, verbatim. `page` counts from 1 within (account, endpoint)."""

    month: Month
    platform: str
    account_handle: str
    endpoint: str
    page: int
    body: str
    request_url: str
    fetched_at: datetime
    source: str
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS.get(self.platform, ()):
            raise ValueError(f"unknown endpoint {self.platform}/{self.endpoint}")
        if _SECRET_PARAMETER.search(self.request_url):
            raise ValueError("request_url must not carry a secret")
        if isinstance(self.page, bool) or not isinstance(self.page, int) or not 1 <= self.page <= MAX_PAGE:
            raise ValueError(
                f"page {str(self.page)[:20]} of {self.platform}/{self.endpoint} for {self.account_handle} "
                f"is out of range (1 to {MAX_PAGE})"
            )
        object.__setattr__(self, "sha256", sha256_hex(self.body))

    @cached_property
    def unusable(self) -> str | None:
        """Why the body is not a usable document (`parsing/document.py`), or None: judged once, then
        kept with the stored document and reported by the source that met it."""
        return unusable_reason(self.body)


def sha256_hex(body: str) -> str:
    """Digest of the body's UTF-8 bytes: what an auditor recomputes from the archive."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SourceProblem:
    """Something a source met that is not a usable document (a file with an unknown endpoint,
    bytes that are not UTF-8, an error body...). Kept with its content, never dropped silently."""

    platform: str
    account_handle: str | None
    location: str
    reason: str
    content: bytes = b""


class SourceError(RuntimeError):
    """A pull cannot go on; the message says why and what to do, and never carries a secret."""


class MissingCredentialsError(SourceError):
    """The token of a platform is not in the environment; the message names the variable."""


class QuotaExceededError(SourceError):
    """The platform's quota is spent (YouTube `quotaExceeded`): retrying before it resets is pointless.
    The pull stops; accounts already stored are kept, and a later run resumes after them."""


REDACTED = "REDACTED"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (tokens, keys) so it cannot reach storage or logs."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class Source(Protocol):
    name: str

    def pull(
        self, month: Month, platform: str, accounts: Iterable[Account]
    ) -> Iterator[RawDocument | SourceProblem]:
        """Yield every document of `month` for the given accounts of `platform`, account by account
        (all of one account's documents before the next), and any problem met on the way."""
        ...
