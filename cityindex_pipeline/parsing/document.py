"""What a usable document is: the one definition every reading of a response body applies.

A body is usable when it reads as JSON strictly and is data, not an error. Strictly means:

- JSON as RFC 8259 writes it: no `NaN` or `Infinity`, no trailing comma, no byte-order mark, no
  control character inside a string, and every string Unicode text (no unpaired surrogate escape);
- no object with a repeated name: RFC 8259 leaves its meaning open (Python keeps the last value,
  DuckDB the first), so such a document has no one reading and is refused;
- nested at most `MAX_DEPTH` deep, and every number one a reader can hold (`MAX_INTEGER_DIGITS`,
  a finite double);
- not an API error body (a Graph API `error` object, an X problem object).

`unusable_reason` gives the verdict, `read_json` the payload of a usable body. The landing source,
the raw checks, the per-record parsers and the set-wise reader all take their verdict from here,
so a document is refused for the same reason everywhere. The verdict is taken once, when a
document is stored, and kept beside it (`raw.documents.unusable_reason`, with `READING_RULES`);
`with_verdicts` reads the stored verdicts and judges again only bodies judged by other rules.

The bounds of what is read from a usable document (counts, times, pages) are here too, so that
every reader holds the same ones; a bound of one platform's alone is beside both of its readers
(YouTube's durations, `youtube.py`).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import polars as pl

READING_RULES = "1"
"""The version of these rules, stored with each verdict: a verdict taken by other rules is taken again."""

MAX_DEPTH = 64
"""Objects and arrays nested deeper are refused. The platforms' responses nest 6 or 7 deep; Python's
own reader fails near 1,000, at a depth that depends on its caller's stack."""
MAX_INTEGER_DIGITS = 4300
"""The longest integer Python converts (its default `sys.int_info.default_max_str_digits`, with
`PYTHONINTMAXSTRDIGITS` unset); longer is refused. Counts stop far below (`MAX_COUNT`)."""
MAX_COUNT = 2**53
"""Larger counts are not plausible for a city account and would lose precision as DOUBLE."""
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)
"""Times a post, a video or a playlist entry may carry: outside them a time is refused, not read."""
MAX_PAGE = 100_000
"""The last page an endpoint of one account's month may have (a landing file `posts-<page>.json`):
100,000 pages of 25 posts. Larger is not a page number; beyond `INTEGER` it would not even be stored."""


class DocumentError(ValueError):
    """A whole document cannot be used: not JSON, an error body, or the wrong shape."""


def read_json(body: str) -> Any:
    """The payload of a usable body; a DocumentError with the reason for any other."""
    if _JUDGED_USABLE.get() is body:
        return json.loads(body)
    payload, reason = _judge(body)
    if reason is not None:
        raise DocumentError(reason)
    return payload


_JUDGED_USABLE: ContextVar[str | None] = ContextVar("judged_usable", default=None)


@contextmanager
def judged_usable(body: str) -> Iterator[None]:
    """Within: `read_json(body)` reads this very body without judging it again, because its stored
    verdict holds and says it is usable. A usable body reads the same by Python's plain reader as by
    the strict one (no repeated name, no literal the strict one refuses), at half the cost."""
    token = _JUDGED_USABLE.set(body)
    try:
        yield
    finally:
        _JUDGED_USABLE.reset(token)


def unusable_reason(body: str) -> str | None:
    """Why a body is not a usable document, or None when it is."""
    return _judge(body)[1]


def read_strict_json(text: str) -> Any:
    """The payload of strict JSON, error bodies included (what a client steering a pull reads, an
    error response among others); a DocumentError for text that is not strict JSON."""
    payload, reason = _judge(text, error_bodies=False)
    if reason is not None:
        raise DocumentError(reason)
    return payload


def _judge(body: str, *, error_bodies: bool = True) -> tuple[Any, str | None]:
    try:
        payload, reason = _judge_here(body)
    except RecursionError:
        payload, reason = _judge_on_a_fresh_stack(body)
    if reason is None and error_bodies:
        reason = _error_body(payload)
    return payload, reason


def _judge_here(body: str) -> tuple[Any, str | None]:
    """The payload of strict JSON, or why the text is not strict JSON."""
    try:
        payload = _strict_loads(body)
    except _Refused as refusal:
        return None, str(refusal)
    except json.JSONDecodeError as error:
        start = body.lstrip()[:15].lower()
        html = ": an HTML page" if start.startswith(("<!doctype", "<html")) else ""
        at = "" if error.msg.endswith(" at") else " at"  # "Unterminated string starting at"
        return None, f"not valid JSON{html} ({error.msg}{at} character {error.pos})"
    except ValueError:  # an integer longer than Python converts
        return None, f"a number of more than {MAX_INTEGER_DIGITS} digits"
    if _nested_deeper_than(payload, MAX_DEPTH, body):
        return None, TOO_DEEP
    if ("\\ud" in body or "\\uD" in body) and _has_unpaired_surrogate(payload):
        return None, "a string that is not Unicode text (an unpaired surrogate escape)"
    return payload, None


TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


def _judge_on_a_fresh_stack(body: str) -> tuple[Any, str | None]:
    """Python's reader ran out of stack. Read again on a thread of its own, where only a body nested
    far beyond MAX_DEPTH exhausts it: the verdict must not depend on the caller's stack."""
    outcome: list[tuple[Any, str | None]] = []

    def read() -> None:
        try:
            outcome.append(_judge_here(body))
        except RecursionError:
            outcome.append((None, TOO_DEEP))

    reader = threading.Thread(target=read, name="cityindex-deep-json")
    reader.start()
    reader.join()
    return outcome[0] if outcome else (None, TOO_DEEP)


class _Refused(ValueError):
    """Raised from inside the JSON reader for what strict JSON refuses."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _Refused(
                    f"a repeated name {_shown(json.dumps(name, ensure_ascii=False))} in one object"
                )
            seen.add(name)
    return obj


def _constant(literal: str) -> Any:
    raise _Refused(f"not valid JSON: the literal {literal}")


def _finite(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise _Refused(f"a number out of range: {_shown(literal)}")
    return value


def _strict_loads(body: str) -> Any:
    return json.loads(body, object_pairs_hook=_object, parse_constant=_constant, parse_float=_finite)


def _nested_deeper_than(payload: Any, limit: int, body: str) -> bool:
    """Whether objects and arrays nest deeper than `limit` (a body with fewer openers cannot)."""
    if body.count("{") + body.count("[") <= limit:
        return False
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        for child in value.values() if type(value) is dict else value if type(value) is list else ():
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def _has_unpaired_surrogate(payload: Any) -> bool:
    try:
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _error_body(payload: Any) -> str | None:
    """A Graph API error object, or an X problem object (`title` and `status`, no `data`)."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):
        code = f" (code {_shown(error['code'])})" if error.get("code") is not None else ""
        return f"an API error body: {_shown(error.get('message', ''), 200)}{code}"
    if "title" in payload and "status" in payload and "data" not in payload:
        return f"an API error body: {_shown(payload.get('status'))} {_shown(payload.get('title'), 200)}"
    return None


def _shown(value: Any, length: int = 60) -> str:
    """A value for a reason text: short, whatever it is."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= length else f"{text[:length]}... ({len(text)} characters)"


# --- verdicts of many documents: stored with them, taken again when they may not hold ----------------

VERDICT_COLUMNS = ("unusable_reason", "reading_rules", "judged_sha256")
"""Where a stored document keeps its verdict: the reason (null when usable), the rules that took it
and the sha256 of the body they judged (a body replaced since is judged again)."""


def with_verdicts(documents: pl.DataFrame) -> pl.DataFrame:
    """Documents (with `body`, and `sha256` when stored) with `unusable_reason` by the current rules:
    the stored verdict where these rules took it for this very body, a verdict taken now for the
    others (documents stored before verdicts were kept or under other rules, a body replaced since,
    frames that never were stored)."""
    missing = [column for column in (*VERDICT_COLUMNS, "sha256") if column not in documents.columns]
    judged = documents.with_columns(pl.lit(None, pl.String).alias(column) for column in missing)
    holds = (pl.col("reading_rules") == READING_RULES) & (pl.col("judged_sha256") == pl.col("sha256"))
    stale = judged.select(~holds.fill_null(False)).to_series()
    if stale.any():
        reasons = [
            unusable_reason(body) if again else reason
            for body, reason, again in zip(judged["body"], judged["unusable_reason"], stale, strict=True)
        ]
        judged = judged.with_columns(
            pl.Series("unusable_reason", reasons, dtype=pl.String),
            pl.lit(READING_RULES).alias("reading_rules"),
            pl.col("sha256").alias("judged_sha256"),
        )
    return judged.drop(column for column in missing if column not in VERDICT_COLUMNS)
