"""What every parser shares: typed errors, the row shapes, count, text and time readers.

What a usable document is, and the bounds of what is read from one, are in `document.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cityindex_pipeline.parsing.document import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_COUNT,
    DocumentError,
    read_json,
)

CONTENT_TYPES = ("text", "photo", "video", "album", "link", "other")
"""The known content types of `clean.posts`; every platform's own vocabulary maps onto these."""

_HASHTAG = re.compile(r"#(\w+)", re.UNICODE)


class RecordError(ValueError):
    """One record inside a usable document cannot be used; the rest of the document can."""


@dataclass(frozen=True)
class Rejection:
    record_id: str | None
    reason: str
    record: str


@dataclass
class Parsed:
    """Rows a parser could use and records it had to reject, with the reason."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def reject(self, record: Any, reason: str) -> None:
        record_id = record.get("id") if isinstance(record, dict) else None
        if isinstance(record_id, bool) or not isinstance(record_id, str | int):
            record_id = None  # an id of the wrong kind is in the record's text, not taken for an id
        self.rejected.append(
            Rejection(
                record_id=str(record_id)[:200] if record_id is not None else None,
                reason=reason,
                record=json.dumps(record, ensure_ascii=False, sort_keys=True)[:4000],
            )
        )


def load_json(body: str) -> Any:
    """The payload of a usable document (`document.read_json`); anything else is a DocumentError."""
    return read_json(body)


def rows_from(records: Iterable[Any], build: Callable[[Any], dict[str, Any]]) -> Parsed:
    """A row from each record; a record that cannot be used is rejected with its reason, the rest go on.
    A value of a kind no reader names (a list where a parser calls `.get`) is rejected too, by the
    error's own words, never raised out of the document."""
    parsed = Parsed()
    for record in records:
        try:
            parsed.rows.append(build(record))
        except RecordError as error:
            parsed.reject(record if isinstance(record, dict) else {"value": record}, str(error))
        except (AttributeError, TypeError, KeyError, IndexError, OverflowError) as error:
            reason = f"a value of the wrong kind ({type(error).__name__}: {error})"
            parsed.reject(record if isinstance(record, dict) else {"value": record}, reason)
    return parsed


def graph_object(body: str, what: str) -> dict[str, Any]:
    """A single Graph API object (a page, an IG user): a JSON object with an `id`."""
    payload = load_json(body)
    if not isinstance(payload, dict) or "id" not in payload:
        raise DocumentError(f"not a {what} document: no 'id'")
    return payload


def lookup_entries(body: str) -> list[dict[str, Any]]:
    """The Graph API multi-id lookup `{id: {..., "id": id}}` as a list of entries, each with its id."""
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise DocumentError("not an insights document: expected an object keyed by id")
    return [
        {"id": key, **entry} if isinstance(entry, dict) else {"id": key, "value": entry}
        for key, entry in payload.items()
    ]


def require(payload: Any, key: str, kind: type, what: str) -> Any:
    if not isinstance(payload, dict) or not isinstance(payload.get(key), kind):
        raise DocumentError(f"not a {what} document: no {key!r} {kind.__name__}")
    return payload[key]


def count(value: Any, name: str, *, numeric_string: bool = False) -> int | None:
    """A count as the platform gave it: absent stays None; numeric strings only where the API sends them."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError(f"{name} is a boolean, not a count")
    if isinstance(value, str):
        if not numeric_string:
            raise RecordError(f"{name} is a string, not a count: {value[:40]!r}")
        if not (value.isascii() and value.isdigit()):
            raise RecordError(f"{name} is not a count: {value[:40]!r}")
        if len(value) > 4000 or len(value.lstrip("0")) > len(str(MAX_COUNT)):  # int() refuses 4,300 digits
            raise RecordError(f"{name} is implausibly large: a number of {len(value)} digits")
        value = int(value)
    if isinstance(value, float):
        raise RecordError(f"{name} is a fraction, not a count: {value!r}")
    if not isinstance(value, int):
        raise RecordError(f"{name} is not a count: {kind_of(value)}")
    if value < 0:
        raise RecordError(f"{name} is negative: {_number_shown(value)}")
    if value > MAX_COUNT:
        raise RecordError(f"{name} is implausibly large: {_number_shown(value)}")
    return value


def _number_shown(value: int) -> str:
    digits = len(str(abs(value)))
    return str(value) if digits <= 40 else f"a number of {digits} digits"


def kind_of(value: Any) -> str:
    """The JSON kind of a value, for reasons: `an object`, `an array`, `a string`, `a number`..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", dict: "an object", list: "an array"}.get(type(value), type(value).__name__)


def text(value: Any, name: str) -> str | None:
    """A text field (a message, a caption, a title, a type): absent stays None; any other kind is refused."""
    if value is None or isinstance(value, str):
        return value
    raise RecordError(f"{name} is not a string: {kind_of(value)}")


def obj(value: Any, name: str) -> dict[str, Any]:
    """A nested object (counts, metrics, entities): absent reads as empty; any other kind is refused."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise RecordError(f"{name} is not an object: {kind_of(value)}")


def timestamp(value: Any, name: str) -> datetime:
    """Read `+0000` (Graph API), `.000Z` (X) and `Z` with or without milliseconds (YouTube), between
    `EARLIEST_TIME` and `LATEST_TIME`."""
    if not isinstance(value, str):
        raise RecordError(
            f"{name} is missing" if value is None else f"{name} is not a string: {kind_of(value)}"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"{name} is not an ISO 8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise RecordError(f"{name} has no time zone: {value[:40]!r}")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31 at UTC-14 is in the year 10000
        raise RecordError(f"{name} is out of range: {value[:40]!r}") from None
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise RecordError(f"{name} is out of range: {value[:40]!r}")
    return moment


def identifier(record: dict[str, Any], key: str = "id") -> str:
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None:
        raise RecordError(f"{key} is missing")
    if not isinstance(value, str):
        raise RecordError(f"{key} is not an identifier: {kind_of(value)}")
    if not value.strip():
        raise RecordError(f"{key} is missing")
    return value


def hashtags_in(text: str | None) -> list[str]:
    return _HASHTAG.findall(text or "")


def excerpt(text: Any, length: int = 280) -> str | None:
    return text[:length] if isinstance(text, str) else None


def insight_value(metric: dict[str, Any]) -> Any:
    """Insights give `values: [{value}]` (lifetime period) or `total_value: {value}`."""
    if isinstance(metric.get("total_value"), dict):
        return metric["total_value"].get("value")
    values = metric.get("values")
    if isinstance(values, list) and values and isinstance(values[-1], dict):
        return values[-1].get("value")
    return None


def metrics_of(entry: Any) -> dict[str, Any]:
    """Metric name to value from one entry of a Graph API multi-id insights lookup."""
    data = obj(entry.get("insights"), "insights").get("data") if isinstance(entry, dict) else None
    if not isinstance(data, list):
        raise RecordError("insights entry without 'insights.data'")
    return {metric.get("name"): insight_value(metric) for metric in data if isinstance(metric, dict)}


def first_present(metrics: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The first of several names for one metric (old and new API versions) that has a value."""
    return next((metrics[name] for name in names if metrics.get(name) is not None), None)


def insight_row(entry: dict[str, Any], **metric_names: tuple[str, ...]) -> dict[str, Any]:
    """One post's insights: each field from the first of its metric names that has a value."""
    metrics = metrics_of(entry)
    row: dict[str, Any] = {"post_id": identifier(entry)}
    for name in INSIGHT_FIELDS[1:]:
        names = metric_names.get(name, ())
        row[name] = count(first_present(metrics, names), name) if names else None
    return row


def post_row(**fields: Any) -> dict[str, Any]:
    """A post with every column present, so absent counts are explicit Nones."""
    row: dict[str, Any] = dict.fromkeys(POST_FIELDS)
    row.update(fields)
    return row


POST_FIELDS = (
    "post_id", "published_at_utc", "content_type", "text_excerpt", "permalink", "hashtags",
    "likes", "comments", "shares", "quotes", "saves", "views", "exposures", "reach", "duration_seconds",
)  # fmt: skip
INSIGHT_FIELDS = ("post_id", "exposures", "reach", "views", "saves")
