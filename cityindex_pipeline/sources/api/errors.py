"""Error responses: what the platform said (Graph, Google and X each say it their own way), and the
error a pull stops with, which tells a gone account from a broken request.
"""

from __future__ import annotations

from dataclasses import dataclass

from cityindex_pipeline.sources.api.responses import json_object
from cityindex_pipeline.sources.base import SourceError

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
class ErrorBody:
    code: int | None
    message: str
    reasons: frozenset[str]
    subcode: int | None = None


def error_body(text: str) -> ErrorBody:
    """The error as Graph (`error.code`), Google (`error.errors[].reason`) or X (`errors`, `detail`) give it."""
    payload = json_object(text)
    error = payload.get("error")
    if isinstance(error, dict):
        items = error.get("errors") if isinstance(error.get("errors"), list) else []
        reasons = frozenset(str(item.get("reason")) for item in items if isinstance(item, dict))
        code, subcode = error.get("code"), error.get("error_subcode")
        return ErrorBody(
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
        return ErrorBody(code if isinstance(code, int) else None, str(message), frozenset())
    if payload.get("detail") or payload.get("title"):
        return ErrorBody(None, str(payload.get("detail") or payload.get("title")), frozenset())
    return ErrorBody(None, " ".join(text.split())[:200], frozenset())
