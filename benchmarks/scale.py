"""The bench's scale: k copies of every account, registered for the duration of a bench process, and
the settings of a bench home. The shipped registry files are untouched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.reference.registry import Registry


def scaled_registry(registry: Registry, scale: int) -> Registry:
    """k copies of every account: copy 0 is the account itself, copy i gets `-b{i}` on its handle and
    its id, in the same city and platform, so the city's indicators sum k accounts' months."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1; got {scale}")
    copies = [registry.accounts]
    for i in range(1, scale):
        copies.append(
            registry.accounts.with_columns(
                pl.col("account_handle") + f"-b{i}",
                pl.col("platform_account_id") + f"-b{i}",
            )
        )
    accounts = pl.concat(copies)
    return Registry(cities=registry.cities, accounts=accounts, source_sha256=f"{registry.version}-x{scale}")


@contextmanager
def registry_scaled(scale: int) -> Iterator[None]:
    """The account_registry asset reads the scaled registry for the duration (bench processes only)."""
    import assets.registry as registry_asset

    original = registry_asset.load_registry
    registry_asset.load_registry = lambda: scaled_registry(original(), scale)
    try:
        yield
    finally:
        registry_asset.load_registry = original


BENCH_SCALE_VARIABLE = "CITYINDEX_BENCH_SCALE"
"""The scale of the bench's own code location (`benchmarks.scaled_location`): bench processes only."""

BENCH_MONTH = Month(2024, 9)
"""The month the bench computes alone."""


def bench_settings(home: Path, first_month: Month = BENCH_MONTH) -> Settings:
    """The bench computes September alone (its first month of coverage), or a backfill's months from
    the first of them."""
    return Settings(home=home, source="simulated", seed=20240901, first_month=first_month)
