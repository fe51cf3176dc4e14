"""A successful response as a pull keeps it, and reading bodies just enough to steer a pull.

The parsers judge the bodies; a pull only reads cursors, times and ids from them, and a body that is
not strict JSON steers nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityindex_pipeline.parsing.common import RecordError, timestamp
from cityindex_pipeline.parsing.document import DocumentError, read_strict_json


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
    """Ids read from the bodies, in batches of a lookup's size."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
