"""The contract every source keeps: one month, one platform, documents exactly as received."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from cityindex_pipeline.months import Month

_SECRET_PARAMETER = re.compile(r"[?&](access_token|key|client_secret)=", re.IGNORECASE)

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "facebook": ("page", "posts", "post_insights"),
    "instagram": ("user", "media", "media_insights"),
    "x": ("user", "tweets"),
    "youtube": ("channel", "playlist_items", "videos"),
}
"""Endpoints per platform, in the order a pull requests them (the landing-folder names)."""


@dataclass(frozen=True)
class Account:
    """One official account of a city on one platform, as the registry lists it."""

    city_id: str
    platform: str
    account_handle: str
    platform_account_id: str
    display_name: str
    started_on: date

    def active_in(self, month: Month) -> bool:
        """An account counts from the month it was opened."""
        return Month.of(self.started_on) <= month


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
        object.__setattr__(self, "sha256", sha256_hex(self.body))


def sha256_hex(body: str) -> str:
    """Digest of the body's UTF-8 bytes: what an auditor recomputes from the archive."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class Source(Protocol):
    name: str

    def pull(self, month: Month, platform: str, accounts: Iterable[Account]) -> Iterator[RawDocument]:
        """Yield every document of `month` for the given accounts of `platform`."""
        ...
