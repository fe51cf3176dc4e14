"""Decompose a city's published score: publication -> final -> quantitative and qualitative ->
platforms -> dimensions -> indicators -> account metrics -> posts -> the raw documents that hold them.
Every level is recomputed from the one below it and reconciled to 1e-9; each raw document's sha256 is
recomputed from its stored text. The levels are the records of `trace_records`."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from cityindex_pipeline.audit.trace_posts import held_documents, traced_accounts
from cityindex_pipeline.audit.trace_records import (
    CityTrace,
    DimensionScore,
    Qualitative,
    Quantitative,
    Reconciliation,
    TracedAccount,
    TracedCity,
    TracedIndicator,
    TracedPlatform,
    TracedPublication,
    WeightShares,
)
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.aggregation import combine
from cityindex_pipeline.method.config import Methodology, methodology_of
from cityindex_pipeline.method.indicators import city_indicators, interaction_parts
from cityindex_pipeline.reference.registry import Registry
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.trace_reads import published_city


class TraceError(LookupError):
    """Nothing to trace: unknown city, or the month has not been materialised."""


def find_city(cities: pl.DataFrame, name: str) -> dict[str, Any]:
    """By city id, English name (case and apostrophe insensitive) or Chinese name, in the month's roster."""
    try:
        return Registry(cities=cities, accounts=pl.DataFrame()).find_city(name)
    except KeyError as error:
        raise TraceError(error.args[0]) from None


INDICATOR_FIELDS = tuple(TracedIndicator.__dataclass_fields__)


def trace(
    warehouse: Warehouse,
    name: str,
    month: Month,
    *,
    platform: str | None = None,
    version: int | None = None,
) -> CityTrace:
    """The whole decomposition of one city's score (the CLI prints it, `--json` dumps its `as_dict`).

    `platform` limits the posts and documents to one platform (the levels above stay whole);
    `version` is the publication traced (the latest by default).
    """
    if platform is not None and platform not in PLATFORMS:
        raise TraceError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    with warehouse.session():
        return _trace(warehouse, name, month, platform, version)


def trace_city(
    warehouse: Warehouse,
    name: str,
    month: Month,
    *,
    platform: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """`trace`'s decomposition as the JSON-ready document `trace --json` prints."""
    return trace(warehouse, name, month, platform=platform, version=version).as_dict()


def _trace(
    warehouse: Warehouse, name: str, month: Month, platform: str | None, version: int | None
) -> CityTrace:
    cities = warehouse.read_month("clean.registry_cities", month)
    if cities.height == 0:
        raise TraceError(
            f"{month} has not been materialised (no registry snapshot); run `cityindex materialize --month {month}`"
        )
    city = find_city(cities, name)
    city_id = city["city_id"]
    of_city = {"city_id": city_id}
    comprehensive = warehouse.read_month("idx.comprehensive_index", month, where=of_city)
    if comprehensive.height == 0:
        raise TraceError(f"no comprehensive index for {city['name_en']} in {month}")
    final = comprehensive.row(0, named=True)
    publication = _publication(warehouse, month, city_id, version)
    weights = warehouse.read_month("idx.platform_weights", month)
    platform_index = warehouse.read_month("idx.platform_index", month, where=of_city)
    indicators = warehouse.read_month("idx.platform_indicators", month, where=of_city)
    metrics = warehouse.read_month("clean.account_metrics", month, where=of_city)
    posts = warehouse.read_month("clean.posts", month, where=of_city)
    panel = warehouse.read_month("idx.qualitative_scores", month, where=of_city)
    traced_posts = posts.filter(pl.col("platform").is_in(platform_index["platform"].implode()))
    held = held_documents(
        warehouse, month, traced_posts if platform is None else traced_posts.filter(platform=platform)
    )
    methodology = methodology_of(final["methodology_version"])  # what computed the month, not today's
    aggregation = methodology.aggregation

    reconciliations = []
    if publication is not None:
        reconciliations.append(
            Reconciliation(
                f"published v{publication.version} score = the month's comprehensive index score",
                publication.score,
                final["score"],
            )
        )
    reconciliations.append(
        Reconciliation(
            "final = quantitative share x quantitative + qualitative share x qualitative",
            final["score"],
            final["quantitative_share"] * final["quantitative_score"]
            + final["qualitative_share"] * final["qualitative_score"],
        )
    )
    platforms = []
    for weight in weights.iter_rows(named=True):
        traced_platform = weight["platform"]
        shares = WeightShares(weight["user_scale_share"], weight["activity_share"], weight["relevance_share"])
        scored = platform_index.filter(platform=traced_platform)
        if scored.height == 0:
            platforms.append(TracedPlatform(traced_platform, weight["weight"], shares, None, 0.0))
            continue
        accounts = traced_accounts(
            metrics.filter(platform=traced_platform),
            posts.filter(platform=traced_platform),
            documents=platform in (None, traced_platform),
            held=held,
            reconciliations=reconciliations,
        )
        traced = _scored_platform(
            scored.row(0, named=True),
            weight["weight"],
            shares,
            indicators.filter(platform=traced_platform),
            accounts,
            methodology,
            interaction_parts(posts.filter(platform=traced_platform), traced_platform, methodology),
        )
        reconciliations += _indicator_reconciliations(
            traced_platform, traced.indicators, metrics, posts, methodology
        )
        reconciliations += _platform_reconciliations(traced, methodology)
        reconciliations += _parts_reconciliation(traced)
        platforms.append(traced)
    platforms.sort(key=lambda entry: entry.contribution, reverse=True)
    reconciliations.append(
        Reconciliation(
            f"quantitative = {aggregation.platforms} mean of the platform scores (absent = 0)",
            final["quantitative_score"],
            combine(
                [entry.score or 0.0 for entry in platforms],
                [entry.weight for entry in platforms],
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
    return CityTrace(
        city=TracedCity(**{k: city[k] for k in ("city_id", "name_en", "name_zh", "province_en", "tier")}),
        month=str(month),
        publication=publication,
        platform=platform,
        methodology_version=final["methodology_version"],
        score=final["score"],
        rank=final["rank"],
        previous_rank=final["previous_rank"],
        quantitative=Quantitative(final["quantitative_share"], final["quantitative_score"]),
        qualitative=Qualitative(
            share=final["qualitative_share"],
            score=final["qualitative_score"],
            source=panel["source"][0] if panel.height else None,
            carried_from=(
                str(panel["carried_from"].drop_nulls().min())
                if "carried_from" in panel.columns and panel["carried_from"].drop_nulls().len()
                else None
            ),
            by_rater=dict(panel.group_by("rater").agg(pl.col("score").mean()).sort("rater").iter_rows()),
        ),
        platforms=tuple(platforms),
        reconciliations=tuple(reconciliations),
        platform_order=tuple(PLATFORMS),
    )


def _scored_platform(
    row: dict[str, Any],
    weight: float,
    shares: WeightShares,
    indicators: pl.DataFrame,
    accounts: tuple[TracedAccount, ...],
    methodology: Methodology,
    parts: tuple[tuple[str, float, int], ...],
) -> TracedPlatform:
    """A platform the city has accounts on: its score, rank, dimensions and indicators."""
    return TracedPlatform(
        platform=row["platform"],
        weight=weight,
        weight_from=shares,
        score=row["score"],
        contribution=weight * row["score"],
        rank=row["rank"],
        dimensions={d.name: DimensionScore(row[f"{d.name}_score"], d.weight) for d in methodology.dimensions},
        indicators=tuple(
            TracedIndicator(**values) for values in indicators.select(INDICATOR_FIELDS).iter_rows(named=True)
        ),
        accounts=accounts,
        interaction_parts=parts,
    )


def _parts_reconciliation(traced: TracedPlatform) -> list[Reconciliation]:
    """The interactions indicator from its weighted parts, summed over the city's posts."""
    stored = next((i.raw_value for i in traced.indicators if i.indicator == "interactions"), None)
    if stored is None or not traced.interaction_parts:
        return []
    return [
        Reconciliation(
            f"{traced.platform} interactions = Σ weight x part over the city's posts",
            float(stored),
            math.fsum(weight * total for _, weight, total in traced.interaction_parts),
        )
    ]


def _platform_reconciliations(traced: TracedPlatform, methodology: Methodology) -> list[Reconciliation]:
    """The platform's score from its dimension scores, and each dimension's from its indicators."""
    aggregation = methodology.aggregation
    dimensions = traced.dimensions
    checks = [
        Reconciliation(
            f"{traced.platform} score = {aggregation.dimensions} mean of the dimension scores",
            traced.score,
            combine(
                [d.score for d in dimensions.values()],
                [d.weight for d in dimensions.values()],
                aggregation.dimensions,
                aggregation.geometric_shift,
            ),
        )
    ]
    missing = None if aggregation.missing_dimension == "reweight" else 0.0
    for name, dimension in dimensions.items():
        used = [i for i in traced.indicators if i.dimension == name and i.normalised is not None]
        total_weight = sum(i.indicator_weight for i in used)
        recomputed = (
            sum(i.normalised * i.indicator_weight for i in used) / total_weight if total_weight else missing
        )
        if dimension.score is None and recomputed is None:
            continue  # a missing dimension, left out of the platform score: nothing to add up
        checks.append(
            Reconciliation(
                f"{traced.platform} {name} = weighted mean of its normalised indicators",
                math.nan if dimension.score is None else dimension.score,
                math.nan if recomputed is None else recomputed,
            )
        )
    return checks


def _publication(
    warehouse: Warehouse, month: Month, city_id: str, version: int | None
) -> TracedPublication | None:
    """The publication traced: its version, and the city's published score and rank."""
    publications = warehouse.publications(month)
    if publications.height == 0:
        if version is not None:
            raise TraceError(f"{month} has no publication v{version}: it has not been published")
        return None
    versions = [int(v) for v in publications["version"]]
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        raise TraceError(
            f"{month} has no publication v{chosen}; published: {', '.join(f'v{v}' for v in versions)}"
        )
    row = published_city(warehouse, month, chosen, city_id)
    if row.height == 0:
        raise TraceError(f"publication v{chosen} of {month} has no row for {city_id}")
    record = publications.filter(pl.col("version") == chosen).row(0, named=True)
    return TracedPublication(
        version=chosen,
        latest=chosen == max(versions),
        score=row["score"][0],
        rank=row["rank"][0],
        content_sha256=record["content_sha256"],
        run_id=record["run_id"],
        published_at=str(record["published_at"]),
    )


def _indicator_reconciliations(
    platform: str,
    indicators: tuple[TracedIndicator, ...],
    metrics: pl.DataFrame,
    posts: pl.DataFrame,
    methodology: Methodology,
) -> list[Reconciliation]:
    """Each raw indicator recomputed from the city's account metrics and posts, as the index does."""
    recomputed = city_indicators(metrics, posts, platform, methodology)
    if recomputed.height == 0:
        return []
    values = recomputed.row(0, named=True)
    checks = []
    for indicator in indicators:
        name, stored = indicator.indicator, indicator.raw_value
        if name not in values or stored is None:
            continue
        again = values[name]
        checks.append(
            Reconciliation(
                f"{platform} {name} = aggregate of the city's accounts",
                float(stored),
                float("nan") if again is None else float(again),
            )
        )
    return checks
