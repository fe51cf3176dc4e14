"""Publication: an immutable, versioned copy of a month's index, with what it was made from.

A month is published as version 1, 2, ...; a version is never changed or deleted. Re-running a
month that produces the same numbers publishes nothing new; different numbers get a new version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl

from cityindex_pipeline import PLATFORMS
from cityindex_pipeline.months import Month
from cityindex_pipeline.warehouse import Warehouse, utc_now

CONTENT_COLUMNS = (
    "city_id", "name_en", "name_zh", "rank", "score", "quantitative_score", "qualitative_score",
    *(f"{p}_score" for p in PLATFORMS), "previous_rank", "rank_change", "score_change",
    "median_rank", "rank_p05", "rank_p95", "rank_robust",
)  # fmt: skip


@dataclass(frozen=True)
class Publication:
    month: Month
    version: int
    content_sha256: str
    created: bool


def publication_rows(
    comprehensive: pl.DataFrame,
    platform_scores: pl.DataFrame,
    cities: pl.DataFrame,
    uncertainty: pl.DataFrame,
) -> pl.DataFrame:
    """The published table: rank and its 5-95 % interval, score, its two parts, each platform's score
    (null: no account there)."""
    per_platform = platform_scores.select("city_id", pl.col("platform") + "_score", "score").pivot(
        on="platform", index="city_id", values="score"
    )
    for platform in PLATFORMS:
        if f"{platform}_score" not in per_platform.columns:
            per_platform = per_platform.with_columns(pl.lit(None, pl.Float64).alias(f"{platform}_score"))
    return (
        comprehensive.join(cities.select("city_id", "name_en", "name_zh"), on="city_id", how="left")
        .join(per_platform, on="city_id", how="left")
        .join(
            uncertainty.select(
                "city_id", "median_rank", "rank_p05", "rank_p95", pl.col("robust").alias("rank_robust")
            ),
            on="city_id",
            how="left",
        )
        .select(CONTENT_COLUMNS)
        .sort("rank", "city_id")
    )


def content_sha256(rows: pl.DataFrame) -> str:
    """A digest of the published numbers (full precision), independent of run ids and times."""
    canonical = rows.select(CONTENT_COLUMNS).sort("city_id").write_csv(float_precision=17)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def publish_month(
    warehouse: Warehouse,
    month: Month,
    run_id: str,
    rows: pl.DataFrame,
    *,
    methodology_version: str,
    registry_version: str,
    pull_ids: list[str],
) -> Publication:
    digest = content_sha256(rows)
    existing = warehouse.publications(month)
    if existing.height and existing["content_sha256"][-1] == digest:
        return Publication(month, int(existing["version"][-1]), digest, created=False)
    version = int(existing["version"].max()) + 1 if existing.height else 1
    warehouse.publish(
        {
            "month": month.first_day,
            "version": version,
            "run_id": run_id,
            "published_at": utc_now(),
            "content_sha256": digest,
            "methodology_version": methodology_version,
            "registry_version": registry_version,
            "pull_ids": sorted(pull_ids),
            "cities": rows.height,
        },
        rows.with_columns(
            pl.lit(month.first_day).alias("month"),
            pl.lit(version).alias("version"),
            pl.lit(run_id).alias("run_id"),
        ),
    )
    return Publication(month, version, digest, created=True)
