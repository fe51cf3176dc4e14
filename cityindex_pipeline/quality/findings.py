"""What a data-quality rule says: passed or not, the failing rows and a sample of them, what to do.

Every rule of the package (and the expectation suites, and the publication's own gate) answers with
a `Finding`; `checks/results.py` turns one into a Dagster check result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Finding:
    """The outcome of one rule: passed or not, how many rows failed and a sample of them."""

    passed: bool
    failed_rows: int
    sample: list[dict[str, object]] = field(default_factory=list)
    detail: str = ""
    fix: str = ""
    """What the engineer should do when the rule fails (empty when it passed)."""
    extra: dict[str, object] = field(default_factory=dict)
    """Further figures worth showing with the result (explained exceptions, thresholds)."""


SAMPLE_ROWS = 5


def finding_from(
    failures: pl.DataFrame, detail: str = "", fix: str = "", extra: dict[str, object] | None = None
) -> Finding:
    """A rule's finding from its failing rows: passed when there are none; the fix only when it failed."""
    return Finding(
        passed=failures.height == 0,
        failed_rows=failures.height,
        sample=jsonable(failures.head(SAMPLE_ROWS).to_dicts()),
        detail=detail,
        fix=fix if failures.height else "",
        extra=extra or {},
    )


def jsonable(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows as JSON-safe values (dates and times as ISO text), for check metadata."""
    return json.loads(json.dumps(rows, default=str))
