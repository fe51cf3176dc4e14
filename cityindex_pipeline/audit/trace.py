"""Decompose a city's published score: publication -> final -> quantitative and qualitative ->
platforms -> dimensions -> indicators -> account metrics -> posts -> the raw documents that hold them.
Every level is recomputed from the one below it and reconciled to 1e-9; each raw document's sha256 is
recomputed from its stored text."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.aggregation import combine
from cityindex_pipeline.method.config import methodology_of
from cityindex_pipeline.method.indicators import city_indicators
from cityindex_pipeline.reference.registry import Registry
from cityindex_pipeline.warehouse.store import Warehouse

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


POST_FIELDS = (
    "post_id", "permalink", "published_at_beijing", "content_type", "likes", "comments", "shares",
    "quotes", "saves", "views", "exposures", "reach", "interactions", "interactions_complete",
)  # fmt: skip
COUNTS_GIVEN = {
    "facebook": ("likes", "comments", "shares", "exposures", "reach"),
    "instagram": ("likes", "comments", "saves", "views", "exposures", "reach"),
    "x": ("likes", "comments", "shares", "quotes", "saves", "views", "exposures"),
    "youtube": ("likes", "comments", "views"),
}
"""The counts each platform can give for a post; one of these that is null was withheld (hidden
likes, a post never shared, a capture without impressions), which is not zero. `views` on X and
Instagram exist for videos only."""


def trace_city(
    warehouse: Warehouse,
    name: str,
    month: Month,
    *,
    platform: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """The whole decomposition of one city's score, as data (the CLI prints it, `--json` dumps it).

    `platform` limits the posts and documents to one platform (the levels above stay whole);
    `version` is the publication traced (the latest by default).
    """
    if platform is not None and platform not in PLATFORMS:
        raise TraceError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    with warehouse.session():
        return _trace(warehouse, name, month, platform, version)


def _trace(
    warehouse: Warehouse, name: str, month: Month, platform: str | None, version: int | None
) -> dict[str, Any]:
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
    held = _documents(
        warehouse, month, traced_posts if platform is None else traced_posts.filter(platform=platform)
    )
    methodology = methodology_of(final["methodology_version"])  # what computed the month, not today's
    dimension_weights = {d.name: d.weight for d in methodology.dimensions}
    aggregation = methodology.aggregation

    reconciliations = []
    if publication is not None:
        reconciliations.append(
            Reconciliation(
                f"published v{publication['version']} score = the month's comprehensive index score",
                publication["score"],
                final["score"],
            )
        )
    reconciliations += [
        Reconciliation(
            "final = quantitative share x quantitative + qualitative share x qualitative",
            final["score"],
            final["quantitative_share"] * final["quantitative_score"]
            + final["qualitative_share"] * final["qualitative_score"],
        )
    ]
    platforms = []
    for weight in weights.iter_rows(named=True):
        traced_platform = weight["platform"]
        scored = platform_index.filter(platform=traced_platform)
        entry: dict[str, Any] = {
            "platform": traced_platform,
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
                "indicators": indicators.filter(platform=traced_platform)
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
                "accounts": _accounts(
                    metrics.filter(platform=traced_platform),
                    posts.filter(platform=traced_platform),
                    documents=platform in (None, traced_platform),
                    held=held,
                    reconciliations=reconciliations,
                ),
            }
            reconciliations += _indicator_reconciliations(
                traced_platform, entry["indicators"], metrics, posts, methodology
            )
            reconciliations.append(
                Reconciliation(
                    f"{traced_platform} score = {aggregation.dimensions} mean of the dimension scores",
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
                        f"{traced_platform} {name} = weighted mean of its normalised indicators",
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
        "publication": publication,
        "platform": platform,
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


def _publication(
    warehouse: Warehouse, month: Month, city_id: str, version: int | None
) -> dict[str, Any] | None:
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
    row = warehouse.query(
        "SELECT score, rank FROM publish.index WHERE month = $month AND version = $version AND city_id = $city",
        {"month": month.first_day, "version": chosen, "city": city_id},
    )
    if row.height == 0:
        raise TraceError(f"publication v{chosen} of {month} has no row for {city_id}")
    record = publications.filter(pl.col("version") == chosen).row(0, named=True)
    return {
        "version": chosen,
        "latest": chosen == max(versions),
        "score": row["score"][0],
        "rank": row["rank"][0],
        "content_sha256": record["content_sha256"],
        "run_id": record["run_id"],
        "published_at": str(record["published_at"]),
    }


def _accounts(
    metrics: pl.DataFrame,
    posts: pl.DataFrame,
    *,
    documents: bool,
    held: dict[tuple[str, str], dict[str, Any]],
    reconciliations: list[Reconciliation],
) -> list[dict[str, Any]]:
    """Each account's metrics, recomputed from its posts; each post with the raw document holding it
    (from `held`, the documents of the traced posts, fetched together in one scan)."""
    by_interactions = posts.sort("interactions", descending=True, maintain_order=True)
    posts_of = by_interactions.partition_by("account_handle", as_dict=True, maintain_order=True)
    accounts = []
    for account in metrics.drop("month", "run_id").iter_rows(named=True):
        own = posts_of.get((account["account_handle"],), posts.clear())
        handle = f"@{account['account_handle']}"
        reconciliations.append(
            Reconciliation(f"{handle} posts = count of its posts", account["posts"], own.height)
        )
        reconciliations.append(
            Reconciliation(
                f"{handle} interactions = sum of its posts' interactions",
                account["interactions"],
                float(own["interactions"].sum()),
            )
        )
        entry = {**account, "posts_traced": []}
        for post in own.iter_rows(named=True):
            traced = {field: _plain(post[field]) for field in POST_FIELDS}
            traced["counts_given"] = {
                name: post[name]
                for name in COUNTS_GIVEN[post["platform"]]
                if post[name] is not None or not (name == "views" and post["content_type"] != "video")
            }
            traced["withheld"] = [name for name, value in traced["counts_given"].items() if value is None]
            if documents:
                traced["document"] = _copy(held.get((post["pull_id"], post["source_sha256"])))
                traced["insights_document"] = _copy(held.get((post["pull_id"], post["insights_sha256"])))
                document = traced["document"]
                if document is not None:
                    body = document.pop("body")
                    reconciliations.append(
                        Reconciliation(
                            f"post {post['post_id']}: the sha256 recomputed from its document's stored text",
                            1.0,
                            float(
                                document["sha256"] == document["recomputed_sha256"]
                                and post["post_id"] in body
                            ),
                        )
                    )
                if traced["insights_document"] is not None:
                    traced["insights_document"].pop("body", None)
            entry["posts_traced"].append(traced)
        accounts.append(entry)
    return accounts


def _documents(
    warehouse: Warehouse, month: Month, posts: pl.DataFrame
) -> dict[tuple[str, str], dict[str, Any]]:
    """The raw documents holding these posts (and their insights), keyed by (pull_id, sha256): one
    query for every platform, since each scans the month's documents."""
    digests = sorted(set(posts["source_sha256"].drop_nulls()) | set(posts["insights_sha256"].drop_nulls()))
    if not digests:
        return {}
    rows = warehouse.query(
        "SELECT pull_id, sha256, platform, account_handle, endpoint, page, fetched_at, request_url, source, body "
        "FROM raw.documents WHERE month = $month AND list_contains($digests, sha256)",
        {"month": month.first_day, "digests": digests},
    )
    held = {}
    for row in rows.iter_rows(named=True):
        body = row.pop("body")
        held[(row["pull_id"], row["sha256"])] = {
            **{key: _plain(value) for key, value in row.items()},
            "recomputed_sha256": hashlib.sha256(body.encode("utf-8")).hexdigest(),
            "bytes": len(body.encode("utf-8")),
            "body": body,
        }
    return held


def _indicator_reconciliations(
    platform: str,
    indicators: list[dict[str, Any]],
    metrics: pl.DataFrame,
    posts: pl.DataFrame,
    methodology: Any,
) -> list[Reconciliation]:
    """Each raw indicator recomputed from the city's account metrics and posts, as the index does."""
    recomputed = city_indicators(metrics, posts, platform, methodology)
    if recomputed.height == 0:
        return []
    values = recomputed.row(0, named=True)
    checks = []
    for indicator in indicators:
        name, stored = indicator["indicator"], indicator["raw_value"]
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


def _copy(document: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if document is None else dict(document)


def _plain(value: Any) -> Any:
    """JSON-ready: times as ISO 8601 text."""
    return value.isoformat() if hasattr(value, "isoformat") else value
