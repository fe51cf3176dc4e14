"""Platform reference figures (user scale, activity, relevance): the inputs of platform weights."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.reference.registry import DATA_DIR

DEFAULT_PLATFORM_REFERENCE = DATA_DIR / "platform_reference.csv"
NUMERIC = ("monthly_active_users_millions", "daily_minutes_per_user", "relevance")


class ReferenceError(ValueError):
    """The platform reference file is unusable; the message names the row."""


def load_platform_reference(path: Path = DEFAULT_PLATFORM_REFERENCE) -> pl.DataFrame:
    frame = pl.read_csv(path, infer_schema=False)
    expected = ("platform", *NUMERIC, "reference_note")
    if tuple(frame.columns) != expected:
        raise ReferenceError(f"{path.name}: columns must be {expected}, got {tuple(frame.columns)}")
    if sorted(frame["platform"]) != sorted(PLATFORMS):
        raise ReferenceError(f"{path.name}: needs exactly one row per platform {PLATFORMS}")
    typed = frame.with_columns(pl.col(name).cast(pl.Float64, strict=False) for name in NUMERIC)
    for row in typed.iter_rows(named=True):
        bad = [name for name in NUMERIC if row[name] is None or row[name] <= 0]
        if bad:
            raise ReferenceError(f"{path.name}: {row['platform']}: {bad} must be positive numbers")
    return typed
