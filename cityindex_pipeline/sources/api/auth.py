"""A platform's secret: how it travels (query or header), where it may go, and how it is redacted.

The secret is redacted from every body, message and log line as sent and as it may be echoed back
(percent-encoded); httpx's own request log goes through the same redaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from cityindex_pipeline.sources.api.urls import origin_of
from cityindex_pipeline.sources.base import redact


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


class RedactingFilter(logging.Filter):
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


HTTPX_LOG_FILTER = RedactingFilter()
"""One filter on the `httpx` logger, holding every secret a client has sent."""
