"""What a month's report shows, as facts read from the warehouse: the publication and its index, each
platform's ranking with the previous month's ranks, its top ten with their G/I/U parts and account
figures, its movers and its leaders' notable posts, the top ten's trends, and what the numbers came
from. No words and no charts here: `sentences` writes the words, `build` draws and writes the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.render import link_url
from cityindex_pipeline.method.config import Methodology, methodology_of
from cityindex_pipeline.warehouse.publication_tables import published_index
from cityindex_pipeline.warehouse.report_reads import published_trends, pull_sources
from cityindex_pipeline.warehouse.store import Warehouse

TREND_MONTHS = 12
MOVERS_EACH_WAY = 5
LEADERS_WITH_POSTS = 3
POSTS_PER_LEADER = 2
TOLERANCE = 1e-9


class ReportError(RuntimeError):
    """The report cannot be built as asked; the message says why and what to do."""


@dataclass(frozen=True)
class PlatformFacts:
    """One platform's section of the report."""

    platform: str
    ranking: pl.DataFrame
    """Every city with an account there, ranked on its published platform score, with its previous
    month's rank and the change."""
    top_ten: pl.DataFrame
    """The first ten of the ranking, with their G/I/U parts and their accounts' figures."""
    dimensions: pl.DataFrame
    """G, I and U of every city on the platform (`idx.platform_index`)."""
    movers: pl.DataFrame
    """The largest rises and falls of the ranking (`movers_of`)."""
    posts: list[dict[str, Any]]
    """The notable posts of the first three (`notable_posts`)."""
    weight: float


@dataclass(frozen=True)
class ReportFacts:
    """Everything a month's report shows, for one publication of the month."""

    month: Month
    version: int
    publication: dict[str, Any]
    index: pl.DataFrame
    """The version's `publish.index`, by rank."""
    has_previous: bool
    """Whether the previous month is published (its latest version gives the platforms' changes)."""
    overall_movers: pl.DataFrame
    platforms: list[PlatformFacts]
    methodology: Methodology
    """The methodology that computed the month, not today's."""
    weights: pl.DataFrame
    """The platforms' weights, heaviest first."""
    trends: pl.DataFrame
    """Rank and score of this month's top ten over up to `TREND_MONTHS` published months."""
    locations: pl.DataFrame
    """The index with each city's longitude and latitude."""
    uncertainty: pl.DataFrame
    sensitivity: pl.DataFrame
    """The uncertainty's sources, the largest share of the variance first."""
    sources: dict[str, list[str]]
    """Where the numbers came from: the raw pulls' sources, the panel's, the accounts' provenance."""

    @property
    def dimension_weights(self) -> dict[str, float]:
        return {d.name: d.weight for d in self.methodology.dimensions}


def publication(warehouse: Warehouse, month: Month, version: int | None = None) -> dict[str, Any]:
    """The publication row of a month: the version asked for, or the latest."""
    publications = warehouse.publications(month)
    if publications.height == 0:
        raise ReportError(f"{month} has not been published; run `cityindex materialize --month {month}`")
    if version is None:
        return publications.row(publications.height - 1, named=True)
    chosen = publications.filter(version=version)
    if chosen.height == 0:
        known = ", ".join(f"v{v}" for v in publications["version"])
        raise ReportError(f"{month} has no publication v{version}; published: {known}")
    return chosen.row(0, named=True)


def latest_published_index(warehouse: Warehouse, month: Month) -> pl.DataFrame | None:
    publications = warehouse.publications(month)
    if publications.height == 0:
        return None
    return published_index(warehouse, month, int(publications["version"].max()))


def platform_ranking(index: pl.DataFrame, platform: str) -> pl.DataFrame:
    """Cities with an account on the platform, ranked on their published platform score (competition
    ranking, as the method ranks)."""
    column = f"{platform}_score"
    return (
        index.filter(pl.col(column).is_not_null())
        .select("city_id", "name_en", "name_zh", pl.col(column).alias("score"))
        .with_columns(rank=pl.col("score").rank(method="min", descending=True).cast(pl.Int32))
        .sort("rank", "city_id")
    )


def with_previous(current: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Add the previous month's rank and the change (> 0 is a rise); null where there is none."""
    if previous is None:
        return current.with_columns(previous_rank=pl.lit(None, pl.Int32), rank_change=pl.lit(None, pl.Int32))
    return current.join(
        previous.select("city_id", pl.col("rank").alias("previous_rank")), on="city_id", how="left"
    ).with_columns(rank_change=(pl.col("previous_rank") - pl.col("rank")).cast(pl.Int32))


def movers_of(ranking: pl.DataFrame, each_way: int = MOVERS_EACH_WAY) -> pl.DataFrame:
    """The largest rises and the largest falls (no zero changes), rises first."""
    moved = ranking.filter(pl.col("rank_change").is_not_null() & (pl.col("rank_change") != 0))
    rises = moved.filter(pl.col("rank_change") > 0).sort(["rank_change", "rank"], descending=[True, False])
    falls = moved.filter(pl.col("rank_change") < 0).sort(["rank_change", "rank"], descending=[False, False])
    return pl.concat([rises.head(each_way), falls.head(each_way)])


def account_figures(metrics: pl.DataFrame, platform: str) -> pl.DataFrame:
    """Per city on a platform: posts, interactions and interactions per post, exposures, plays and
    plays per video (where the platform reports plays), followers."""
    rows = metrics.filter(platform=platform)
    return (
        rows.group_by("city_id")
        .agg(
            accounts=pl.len(),
            posts=pl.col("posts").sum(),
            video_posts=pl.col("video_posts").sum(),
            interactions=pl.col("interactions").sum(),
            exposures=pl.col("exposures").sum()
            if rows["exposures"].null_count() < rows.height
            else pl.lit(None),
            views=pl.col("views").sum() if rows["views"].null_count() < rows.height else pl.lit(None),
            videos_with_views=pl.col("video_posts").filter(pl.col("views").is_not_null()).sum(),
            followers=pl.col("followers").sum()
            if rows["followers"].null_count() < rows.height
            else pl.lit(None),
        )
        .with_columns(
            interactions_per_post=pl.when(pl.col("posts") > 0).then(pl.col("interactions") / pl.col("posts")),
            views_per_video=pl.when(pl.col("videos_with_views") > 0).then(
                pl.col("views") / pl.col("videos_with_views")
            ),
        )
    )


def dimension_parts(
    warehouse: Warehouse, month: Month, platform_rankings: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """G, I and U of each city and platform, from the run the publication was made from: the stored
    platform scores must equal the published ones, or the detail belongs to another run."""
    parts = warehouse.read_month("idx.platform_index", month)
    for platform, ranking in platform_rankings.items():
        stored = parts.filter(platform=platform).select("city_id", pl.col("score").alias("stored"))
        joined = ranking.join(stored, on="city_id", how="full", coalesce=True)
        mismatched = joined.filter(
            pl.col("score").is_null()
            | pl.col("stored").is_null()
            | ((pl.col("score") - pl.col("stored")).abs() > TOLERANCE)
        )
        if mismatched.height:
            raise ReportError(
                f"the {platform} detail in idx.platform_index for {month} is not the publication's "
                f"({mismatched.height} cities differ): it was rewritten by a later run. Build the report "
                "of the latest version, or re-run the month that made this one"
            )
    return parts


def notable_posts(posts: pl.DataFrame, platform: str, leaders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The posts with most interactions of each leader on the platform, with a short excerpt and the
    permalink as a link only where it is a safe one (`link_url`)."""
    chosen = []
    on_platform = posts.filter(platform=platform)
    for leader in leaders:
        rows = (
            on_platform.filter(city_id=leader["city_id"])
            .sort(["interactions", "post_id"], descending=[True, False])
            .head(POSTS_PER_LEADER)
        )
        for post in rows.iter_rows(named=True):
            excerpt = (post["text_excerpt"] or "").strip()
            chosen.append(
                {
                    "city": leader["name_en"],
                    "city_zh": leader["name_zh"],
                    "rank": leader["rank"],
                    "published": post["published_at_beijing"].strftime("%d %b %H:%M"),
                    "content_type": post["content_type"],
                    "excerpt": excerpt if len(excerpt) <= 160 else excerpt[:157].rstrip() + "…",
                    "permalink": post["permalink"],
                    "link": link_url(post["permalink"]),
                    "exposures": post["exposures"],
                    "interactions": post["interactions"],
                    "interactions_complete": post["interactions_complete"],
                    "plays": post["views"],
                }
            )
    return chosen


def read_facts(warehouse: Warehouse, month: Month, version: int | None = None) -> ReportFacts:
    """The facts of a publication of the month (the latest if `version` is None)."""
    pub = publication(warehouse, month, version)
    version = int(pub["version"])
    index = published_index(warehouse, month, version)
    previous = latest_published_index(warehouse, month.previous())
    rankings = {p: platform_ranking(index, p) for p in PLATFORMS}
    dims = dimension_parts(warehouse, month, rankings)
    metrics = warehouse.read_month("clean.account_metrics", month)
    posts = warehouse.read_month("clean.posts", month)
    weights = warehouse.read_month("idx.platform_weights", month).sort("weight", descending=True)
    platforms = []
    for platform in PLATFORMS:
        ranking = with_previous(
            rankings[platform], platform_ranking(previous, platform) if previous is not None else None
        )
        platform_dims = dims.filter(platform=platform)
        top_ten = (
            ranking.head(10)
            .join(
                platform_dims.select("city_id", "generate_score", "interactive_score", "utilize_score"),
                on="city_id",
                how="left",
            )
            .join(account_figures(metrics, platform), on="city_id", how="left")
            .sort("rank", "city_id")
        )
        leaders = list(top_ten.head(LEADERS_WITH_POSTS).iter_rows(named=True))
        platforms.append(
            PlatformFacts(
                platform=platform,
                ranking=ranking,
                top_ten=top_ten,
                dimensions=platform_dims,
                movers=movers_of(ranking),
                posts=notable_posts(posts, platform, leaders),
                weight=float(weights.filter(platform=platform)["weight"][0]),
            )
        )
    cities = warehouse.read_month("clean.registry_cities", month).select("city_id", "longitude", "latitude")
    qualitative = warehouse.read_month("idx.qualitative_scores", month)
    accounts = warehouse.read_month("clean.registry_accounts", month)
    return ReportFacts(
        month=month,
        version=version,
        publication=pub,
        index=index,
        has_previous=previous is not None,
        overall_movers=movers_of(
            index.select("city_id", "name_en", "name_zh", "rank", "previous_rank", "rank_change")
        ),
        platforms=platforms,
        methodology=methodology_of(pub["methodology_version"]),
        weights=weights,
        trends=published_trends(
            warehouse, month.shift(-(TREND_MONTHS - 1)), month, version, index.head(10)["city_id"].to_list()
        ),
        locations=index.join(cities, on="city_id", how="left"),
        uncertainty=warehouse.read_month("idx.index_uncertainty", month),
        sensitivity=warehouse.read_month("idx.uncertainty_sensitivity", month).sort(
            pl.coalesce("total_order", "share_of_total_variance"), descending=True
        ),
        sources={
            "raw": pull_sources(warehouse, list(pub["pull_ids"])),
            "qualitative": sorted(set(qualitative["source"])),
            "accounts": sorted(set(accounts["provenance"])),
        },
    )
