"""What a month's counts are held to, and what excuses them: two versioned files beside the registry.

- `data/plausibility.csv`: per platform, scope and measure, how far a count may rise or fall against
  the account's previous month (`rise_factor`, `fall_bound`, with a `floor` below which values count
  as the floor, so a small account's swing is no jump) and the largest plausible value (`maximum`,
  with its `source`). Scopes: `account` (the month's totals in clean.account_metrics),
  `typical_post` (the account's median post of the month) and `post` (each post in clean.posts).
- `data/known_jumps.csv`: `platform,account_handle,month,measure,reason`, one row per account,
  month and measure (`followers`, `posts`, `interactions`, `views`, `exposures` or `all`) whose
  jump the data engineer has confirmed is real. A flagged change or count passes its check, which
  shows the flag and its reason.

Both are read line by line and refused whole, naming the file and the line, when a row is wrong:
a flag or a bound that cannot be read must not pass a month silently.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.reference.registry import DATA_DIR

DEFAULT_BOUNDS_CSV: Path = DATA_DIR / "plausibility.csv"
DEFAULT_KNOWN_JUMPS_CSV: Path = DATA_DIR / "known_jumps.csv"

MEASURES = ("followers", "posts", "interactions", "views", "exposures")
"""What a known jump names, and the account-month totals the month-on-month rule judges."""
POST_COUNTS = (
    "likes",
    "comments",
    "shares",
    "quotes",
    "saves",
    "views",
    "exposures",
    "reach",
    "interactions",
)
"""The counts of a post in clean.posts."""
MEASURE_OF_POST_COUNT = {
    **{count: "interactions" for count in ("likes", "comments", "shares", "quotes", "saves", "interactions")},
    "views": "views",
    "exposures": "exposures",
    "reach": "exposures",
}
"""The account measure a post's count adds to: a known jump of that measure excuses the count."""
SCOPES: dict[str, tuple[str, ...]] = {
    "account": MEASURES,
    "typical_post": ("interactions", "views", "exposures"),
    "post": POST_COUNTS,
}
"""The measures of each scope; plausibility.csv needs one row per platform, scope and measure."""
ALL_MEASURES = "all"

JUMP_COLUMNS = ("platform", "account_handle", "month", "measure", "reason")
BOUND_COLUMNS = ("platform", "scope", "measure", "rise_factor", "fall_bound", "floor", "maximum", "source")
JUMP_SCHEMA = {"platform": pl.String, "account_handle": pl.String, "measure": pl.String, "reason": pl.String}
BOUND_SCHEMA = {
    "platform": pl.String,
    "scope": pl.String,
    "measure": pl.String,
    "rise_factor": pl.Float64,
    "fall_bound": pl.Float64,
    "floor": pl.Float64,
    "maximum": pl.Float64,
    "source": pl.String,
}


class PlausibilityFileError(ValueError):
    """plausibility.csv or known_jumps.csv cannot be used; the message names the file and the line."""


def load_known_jumps(month: Month, path: Path = DEFAULT_KNOWN_JUMPS_CSV) -> pl.DataFrame:
    """The month's known jumps (platform, account_handle, measure, reason); every row of the file is
    validated, whatever its month."""
    rows, seen = [], {}
    for line, row, fail in _rows(Path(path), JUMP_COLUMNS):
        if row["platform"] not in PLATFORMS:
            fail(f"unknown platform {row['platform']!r} (expected {', '.join(PLATFORMS)})")
        if not row["account_handle"]:
            fail("the account_handle is empty")
        try:
            flagged = Month.parse(row["month"])
        except ValueError as error:
            fail(str(error))
        if row["measure"] not in (*MEASURES, ALL_MEASURES):
            fail(f"unknown measure {row['measure']!r} (expected {', '.join((*MEASURES, ALL_MEASURES))})")
        if not row["reason"]:
            fail("a known jump needs a reason")
        key = (row["platform"], row["account_handle"], flagged, row["measure"])
        if key in seen:
            fail(f"repeats line {seen[key]}")
        seen[key] = line
        if flagged == month:
            rows.append({name: row[name] for name in JUMP_SCHEMA})
    return pl.DataFrame(rows, schema=JUMP_SCHEMA)


def load_bounds(path: Path = DEFAULT_BOUNDS_CSV) -> pl.DataFrame:
    """Every platform's bounds, one row per scope and measure, typed; refused if one is missing."""
    rows, seen = [], {}
    for line, row, fail in _rows(Path(path), BOUND_COLUMNS):
        if row["platform"] not in PLATFORMS:
            fail(f"unknown platform {row['platform']!r} (expected {', '.join(PLATFORMS)})")
        if row["scope"] not in SCOPES:
            fail(f"unknown scope {row['scope']!r} (expected {', '.join(SCOPES)})")
        if row["measure"] not in SCOPES[row["scope"]]:
            fail(f"unknown measure {row['measure']!r} for scope {row['scope']} "
                 f"(expected {', '.join(SCOPES[row['scope']])})")  # fmt: skip
        values = {
            name: _number(row[name], name, fail) for name in ("rise_factor", "fall_bound", "floor", "maximum")
        }
        judged_over_months = row["scope"] != "post"
        if judged_over_months and (values["rise_factor"] is None or values["rise_factor"] <= 1):
            fail("rise_factor must be a number above 1")
        if judged_over_months and (values["floor"] is None or values["floor"] <= 0):
            fail("floor must be a positive number")
        if values["fall_bound"] is not None and not (judged_over_months and 0 < values["fall_bound"] < 1):
            fail("fall_bound must be empty or a fraction between 0 and 1 (and posts have no previous month)")
        if not judged_over_months and (values["rise_factor"] is not None or values["floor"] is not None):
            fail("a post has no previous month: leave rise_factor, fall_bound and floor empty")
        has_maximum = row["scope"] != "typical_post"
        if has_maximum and (values["maximum"] is None or values["maximum"] <= 0):
            fail("maximum must be a positive number")
        if not has_maximum and values["maximum"] is not None:
            fail("the typical post has no maximum of its own: each post's is in scope post")
        if not row["source"]:
            fail("say where the bound comes from (source)")
        key = (row["platform"], row["scope"], row["measure"])
        if key in seen:
            fail(f"repeats line {seen[key]}")
        seen[key] = line
        rows.append({**row, **values})
    missing = [
        f"{platform}/{scope}/{measure}"
        for platform in PLATFORMS
        for scope, measures in SCOPES.items()
        for measure in measures
        if (platform, scope, measure) not in seen
    ]
    if missing:
        raise PlausibilityFileError(f"{Path(path).name}: no bounds for {', '.join(missing)}")
    return pl.DataFrame(rows, schema=BOUND_SCHEMA)


def _rows(
    path: Path, columns: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str], Callable[[str], NoReturn]]]:
    """(line, row with values stripped, fail) for each data row; `fail(problem)` raises the file's
    error naming the line. The header must be exactly `columns`."""
    text = path.read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    if tuple(header) != columns:
        raise PlausibilityFileError(
            f"{path.name} line 1: columns must be {', '.join(columns)}; got {', '.join(header)}"
        )
    for fields in reader:
        line = reader.line_num

        def fail(problem: str, line: int = line) -> NoReturn:
            raise PlausibilityFileError(f"{path.name} line {line}: {problem}")

        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(columns):
            fail(f"{len(fields)} fields, expected {len(columns)} ({', '.join(columns)})")
        yield line, dict(zip(columns, (field.strip() for field in fields), strict=True)), fail


def _number(text: str, name: str, fail: Callable[[str], NoReturn]) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        fail(f"{name} is not a number: {text!r}")
    return value
