"""Accounts flagged as reset: a follower fall the data engineer has confirmed is real.

`cityindex_pipeline/data/follower_resets.csv` (versioned with the registry), one row per account and
month: `platform,account_handle,month,reason` (month as YYYY-MM). A flagged account may lose more than
half its followers in that month without failing `follower_change_within_bounds`; the flag and its
reason are shown in the check's metadata.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cityindex_pipeline import PLATFORMS
from cityindex_pipeline.months import Month
from cityindex_pipeline.registry import DATA_DIR

DEFAULT_RESETS_CSV: Path = DATA_DIR / "follower_resets.csv"
COLUMNS = ("platform", "account_handle", "month", "reason")


class ResetsError(ValueError):
    """The resets file cannot be used; the message names the line and the problem."""


def load_follower_resets(month: Month, path: Path = DEFAULT_RESETS_CSV) -> pl.DataFrame:
    """The month's flagged accounts (platform, account_handle, reason); empty when none."""
    frame = pl.read_csv(path, infer_schema=False) if Path(path).stat().st_size else pl.DataFrame()
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ResetsError(f"{Path(path).name}: missing column(s) {missing}; expected {', '.join(COLUMNS)}")
    rows = []
    for line, row in enumerate(frame.iter_rows(named=True), start=2):
        if row["platform"] not in PLATFORMS:
            raise ResetsError(f"{Path(path).name} line {line}: unknown platform {row['platform']!r}")
        if not (row["reason"] or "").strip():
            raise ResetsError(f"{Path(path).name} line {line}: a reset needs a reason")
        try:
            flagged = Month.parse(row["month"] or "")
        except ValueError as error:
            raise ResetsError(f"{Path(path).name} line {line}: {error}") from None
        if flagged == month:
            rows.append({k: row[k] for k in ("platform", "account_handle", "reason")})
    return pl.DataFrame(
        rows, schema={"platform": pl.String, "account_handle": pl.String, "reason": pl.String}
    )
