"""Decompose a city's score: final -> quantitative and qualitative -> platforms -> dimensions ->
indicators -> account metrics. Every level is reconciled with the one above it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from cityindex_pipeline import PLATFORMS
from cityindex_pipeline.method.config import UnknownMethodologyVersion, load_methodology
from cityindex_pipeline.method.index import combine
from cityindex_pipeline.months import Month
from cityindex_pipeline.registry import Registry
from cityindex_pipeline.warehouse import Warehouse

TOLERANCE = 1e-9


class TraceError(LookupError):
    """Nothing to trace: unknown city, or the month has not been materialised."""


@dataclass(frozen=True)
class Reconciliation:
    level: str
    expected: float
    recomputed: float

    @property
    def ok(self) -> bool:
        return abs(self.expected - self.recomputed) <= TOLERANCE

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "expected": self.expected, "recomputed": self.recomputed, "ok": self.ok}


def find_city(cities: pl.DataFrame, name: str) -> dict[str, Any]:
    """By city id, English name (case and apostrophe insensitive) or Chinese name, in the month's roster."""
    try:
        return Registry(cities=cities, accounts=pl.DataFrame()).find_city(name)
    except KeyError as error:
        raise TraceError(error.args[0]) from None


def trace_city(warehouse: Warehouse, name: str, month: Month) -> dict[str, Any]:
    cities = warehouse.read_month("clean.registry_cities", month)
    if cities.height == 0:
        raise TraceError(
            f"{month} has not been materialised (no registry snapshot); run `cityindex materialize --month {month}`"
        )
    city = find_city(cities, name)
    city_id = city["city_id"]
    comprehensive = warehouse.read_month("idx.comprehensive_index", month).filter(city_id=city_id)
    if comprehensive.height == 0:
        raise TraceError(f"no comprehensive index for {city['name_en']} in {month}")
    final = comprehensive.row(0, named=True)
    weights = warehouse.read_month("idx.platform_weights", month)
    platform_index = warehouse.read_month("idx.platform_index", month).filter(city_id=city_id)
    indicators = warehouse.read_month("idx.platform_indicators", month).filter(city_id=city_id)
    metrics = warehouse.read_month("clean.account_metrics", month).filter(city_id=city_id)
    panel = warehouse.read_month("idx.qualitative_scores", month).filter(city_id=city_id)
    try:  # the method that computed the month, not necessarily today's
        methodology = load_methodology(final["methodology_version"])
    except UnknownMethodologyVersion:
        methodology = load_methodology()
    dimension_weights = {d.name: d.weight for d in methodology.dimensions}
    aggregation = methodology.aggregation

    reconciliations = [
        Reconciliation(
            "final = quantitative share x quantitative + qualitative share x qualitative",
            final["score"],
            final["quantitative_share"] * final["quantitative_score"]
            + final["qualitative_share"] * final["qualitative_score"],
        )
    ]
    platforms = []
    for weight in weights.iter_rows(named=True):
        platform = weight["platform"]
        scored = platform_index.filter(platform=platform)
        entry: dict[str, Any] = {
            "platform": platform,
            "weight": weight["weight"],
            "weight_from": {k: weight[k] for k in ("user_scale_share", "activity_share", "relevance_share")},
            "present": scored.height > 0,
        }
        if scored.height:
            row = scored.row(0, named=True)
            entry |= {
                "score": row["score"],
                "contribution": weight["weight"] * row["score"],
                "rank": row["rank"],
                "dimensions": {
                    name: {"score": row[f"{name}_score"], "weight": dimension_weights[name]}
                    for name in dimension_weights
                },
                "indicators": indicators.filter(platform=platform)
                .select(
                    "dimension",
                    "indicator",
                    "indicator_weight",
                    "raw_value",
                    "transform",
                    "skewness",
                    "kurtosis",
                    "winsorised",
                    "treated_value",
                    "platform_min",
                    "platform_max",
                    "normalised",
                )
                .to_dicts(),
                "accounts": metrics.filter(platform=platform).drop("month", "run_id").to_dicts(),
            }
            reconciliations.append(
                Reconciliation(
                    f"{platform} score = {aggregation.dimensions} mean of the dimension scores",
                    row["score"],
                    combine(
                        [row[f"{n}_score"] for n in dimension_weights],
                        list(dimension_weights.values()),
                        aggregation.dimensions,
                        aggregation.geometric_shift,
                    ),
                )
            )
            for name in dimension_weights:
                used = [
                    i for i in entry["indicators"] if i["dimension"] == name and i["normalised"] is not None
                ]
                total_weight = sum(i["indicator_weight"] for i in used)
                recomputed = (
                    sum(i["normalised"] * i["indicator_weight"] for i in used) / total_weight
                    if total_weight
                    else 0.0
                )
                reconciliations.append(
                    Reconciliation(
                        f"{platform} {name} = weighted mean of its normalised indicators",
                        row[f"{name}_score"],
                        recomputed,
                    )
                )
        else:
            entry |= {
                "score": None,
                "contribution": 0.0,
                "note": "no account on this platform: contributes 0",
            }
        platforms.append(entry)
    platforms.sort(key=lambda e: e["contribution"], reverse=True)
    reconciliations.append(
        Reconciliation(
            f"quantitative = {aggregation.platforms} mean of the platform scores (absent = 0)",
            final["quantitative_score"],
            combine(
                [e["score"] or 0.0 for e in platforms],
                [e["weight"] for e in platforms],
                aggregation.platforms,
                aggregation.geometric_shift,
            ),
        )
    )
    reconciliations.append(
        Reconciliation(
            "qualitative = mean of the panel's scores",
            final["qualitative_score"],
            float(panel["score"].mean()) if panel.height else 0.0,
        )
    )
    return {
        "city": {k: city[k] for k in ("city_id", "name_en", "name_zh", "province_en", "tier")},
        "month": str(month),
        "methodology_version": final["methodology_version"],
        "score": final["score"],
        "rank": final["rank"],
        "previous_rank": final["previous_rank"],
        "quantitative": {"share": final["quantitative_share"], "score": final["quantitative_score"]},
        "qualitative": {
            "share": final["qualitative_share"],
            "score": final["qualitative_score"],
            "source": panel["source"][0] if panel.height else None,
            "carried_from": (
                str(panel["carried_from"].drop_nulls().min())
                if "carried_from" in panel.columns and panel["carried_from"].drop_nulls().len()
                else None
            ),
            "by_rater": dict(panel.group_by("rater").agg(pl.col("score").mean()).sort("rater").iter_rows()),
        },
        "platforms": platforms,
        "reconciliations": [r.as_dict() for r in reconciliations],
        "reconciled": all(r.ok for r in reconciliations),
        "platform_order": list(PLATFORMS),
    }
