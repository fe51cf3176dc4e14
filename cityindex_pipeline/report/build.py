"""The monthly report: one self-contained HTML file (charts inlined as SVG) plus the charts as PNGs,
in `$CITYINDEX_HOME/reports/<YYYY-MM>/v<N>/`, built from one publication of a month.

Every number comes from the warehouse: the ranks and scores from `publish.index` (the version asked
for), the G/I/U parts from `idx.platform_index` (only when they add up to the published platform
scores), account figures and notable posts from `clean.*`. A published version's report is written
once and never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.render import html_text, link_url, markdown_text
from cityindex_pipeline.method.config import methodology_of
from cityindex_pipeline.quality.gates import CheckOutcome
from cityindex_pipeline.report import charts
from cityindex_pipeline.warehouse.store import Warehouse

PLATFORM_NAMES = {"facebook": "Facebook", "x": "X", "instagram": "Instagram", "youtube": "YouTube"}
TREND_MONTHS = 12
MOVERS_EACH_WAY = 5
LEADERS_WITH_POSTS = 3
POSTS_PER_LEADER = 2
TOLERANCE = 1e-9
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


class ReportError(RuntimeError):
    """The report cannot be built as asked; the message says why and what to do."""


@dataclass(frozen=True)
class BuiltReport:
    month: Month
    version: int
    directory: Path
    html: Path
    pngs: dict[str, Path]
    created: bool
    seconds: float
    headline_png: Path
    headline_markdown: str
    warnings: list[str] = field(default_factory=list)


def report_directory(reports_dir: Path, month: Month, version: int) -> Path:
    return Path(reports_dir) / str(month) / f"v{version}"


# -- reading the publication -----------------------------------------------------------------------


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


def published_index(warehouse: Warehouse, month: Month, version: int) -> pl.DataFrame:
    return warehouse.query(
        "SELECT * FROM publish.index WHERE month = $month AND version = $version ORDER BY rank, city_id",
        {"month": month.first_day, "version": version},
    )


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


# -- words ---------------------------------------------------------------------------------------


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def places(n: int) -> str:
    count = _NUMBER_WORDS[n] if n <= 10 else str(n)
    return f"{count} place{'s' if n != 1 else ''}"


def movement_sentence(name: str, previous_rank: int, rank: int, scope: str) -> str:
    """'Hangzhou rose five places on Instagram, from 7th to 2nd.'"""
    change = previous_rank - rank
    if change == 0:
        return f"{name} held {ordinal(rank)} {scope}."
    verb = "rose" if change > 0 else "fell"
    return f"{name} {verb} {places(abs(change))} {scope}, from {ordinal(previous_rank)} to {ordinal(rank)}."


def movers_of(ranking: pl.DataFrame, each_way: int = MOVERS_EACH_WAY) -> pl.DataFrame:
    """The largest rises and the largest falls (no zero changes), rises first."""
    moved = ranking.filter(pl.col("rank_change").is_not_null() & (pl.col("rank_change") != 0))
    rises = moved.filter(pl.col("rank_change") > 0).sort(["rank_change", "rank"], descending=[True, False])
    falls = moved.filter(pl.col("rank_change") < 0).sort(["rank_change", "rank"], descending=[False, False])
    return pl.concat([rises.head(each_way), falls.head(each_way)])


def _format(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


# -- the report's content ---------------------------------------------------------------------------


def _city_rows(frame: pl.DataFrame, fonts: charts.Fonts) -> list[dict[str, Any]]:
    return [
        {**row, "label": charts.city_label(row["name_en"], row["name_zh"], fonts)}
        for row in frame.iter_rows(named=True)
    ]


def _account_figures(metrics: pl.DataFrame, platform: str) -> pl.DataFrame:
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


def _dimension_parts(
    warehouse: Warehouse, month: Month, index: pl.DataFrame, platform_rankings: dict[str, pl.DataFrame]
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


def _notable_posts(posts: pl.DataFrame, platform: str, leaders: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


def _why_sentence(
    platform_name: str,
    first: dict[str, Any],
    second: dict[str, Any] | None,
    dims: pl.DataFrame,
    dimension_weights: dict[str, float],
) -> str:
    """Who led, by how much, and which dimension carried the lead (weighted difference with 2nd)."""
    lead = f"{first['name_en']} led {platform_name} with {first['score']:.1f}"
    if second is None:
        return lead + "."
    margin = first["score"] - second["score"]
    text = f"{lead}, {margin:.1f} points ahead of {second['name_en']} ({second['score']:.1f})"
    a = dims.filter(city_id=first["city_id"])
    b = dims.filter(city_id=second["city_id"])
    if a.height and b.height:
        gaps = []
        for dimension, weight in dimension_weights.items():
            column = f"{dimension}_score"
            gaps.append((weight * (a[column][0] - b[column][0]), dimension, a[column][0], b[column][0]))
        gaps.sort(reverse=True)
        gap, dimension, mine, theirs = gaps[0]
        if gap > 0:
            text += (
                f"; most of the difference came from {charts.DIMENSION_LABELS[dimension]}"
                f" ({mine:.1f} against {theirs:.1f}, worth {gap:.1f} points)"
            )
    return text + "."


def _trends(
    warehouse: Warehouse, month: Month, version: int, top_ids: list[str], fonts: charts.Fonts
) -> list[dict[str, Any]]:
    """Rank and score of this month's top ten over up to twelve published months (the latest version
    of earlier months, this report's version of this month)."""
    earliest = month.shift(-(TREND_MONTHS - 1))
    rows = warehouse.query(
        "SELECT i.month, i.city_id, i.name_en, i.name_zh, i.rank, i.score FROM publish.index i "
        "JOIN (SELECT month, max(version) AS version FROM publish.publications "
        "      WHERE month >= $earliest AND month < $month GROUP BY month "
        "      UNION ALL SELECT $month, $version) v USING (month, version) "
        "WHERE list_contains($ids, i.city_id) ORDER BY i.month, i.rank",
        {"earliest": earliest.first_day, "month": month.first_day, "version": version, "ids": top_ids},
    )
    return [{**row, "month": row["month"].strftime("%Y-%m")} for row in _city_rows(rows, fonts)]


def _month_label(month: Month) -> str:
    return month.first_day.strftime("%B %Y")


def build_content(
    warehouse: Warehouse,
    month: Month,
    version: int | None = None,
    checks: list[CheckOutcome] | None = None,
    fonts: charts.Fonts | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the report says (a dict for the template) and its charts (name to Altair chart)."""
    fonts = fonts or charts.prepare_fonts()
    pub = publication(warehouse, month, version)
    version = int(pub["version"])
    index = published_index(warehouse, month, version)
    previous = latest_published_index(warehouse, month.previous())
    caption = charts.Caption(_month_label(month), version, pub["methodology_version"])
    label = _month_label(month)

    overall = _city_rows(index, fonts)
    top = overall[:10]
    chart_set: dict[str, Any] = {
        "top-ten-overall": charts.top_ten_bars(
            [{k: r[k] for k in ("city_id", "rank", "label", "score")} for r in top],
            "Top ten overall: the comprehensive index",
            caption,
        ),
        "rank-intervals": charts.rank_intervals(
            [
                {k: r[k] for k in ("city_id", "rank", "label", "median_rank", "rank_p05", "rank_p95")}
                for r in top
            ],
            caption,
        ),
    }
    overall_moves = movers_of(
        index.select("city_id", "name_en", "name_zh", "rank", "previous_rank", "rank_change")
    )
    overall_sentences = [
        movement_sentence(r["name_en"], r["previous_rank"], r["rank"], "overall")
        for r in overall_moves.iter_rows(named=True)
    ]
    if overall_moves.height:
        chart_set["movers-overall"] = charts.movers(
            _mover_records(overall_moves, fonts), "Movers overall", caption
        )

    rankings = {p: platform_ranking(index, p) for p in PLATFORMS}
    previous_rankings = {
        p: platform_ranking(previous, p) if previous is not None else None for p in PLATFORMS
    }
    dims = _dimension_parts(warehouse, month, index, rankings)
    metrics = warehouse.read_month("clean.account_metrics", month)
    posts = warehouse.read_month("clean.posts", month)
    weights = warehouse.read_month("idx.platform_weights", month).sort("weight", descending=True)
    methodology = methodology_of(pub["methodology_version"])  # what computed the month, not today's
    dimension_weights = {d.name: d.weight for d in methodology.dimensions}

    sections = []
    for platform in PLATFORMS:
        name = PLATFORM_NAMES[platform]
        ranking = with_previous(rankings[platform], previous_rankings[platform])
        platform_dims = dims.filter(platform=platform)
        figures = _account_figures(metrics, platform)
        table = (
            ranking.head(10)
            .join(
                platform_dims.select("city_id", "generate_score", "interactive_score", "utilize_score"),
                on="city_id",
                how="left",
            )
            .join(figures, on="city_id", how="left")
            .sort("rank", "city_id")
        )
        rows = _city_rows(table, fonts)
        chart_set[f"top-ten-{platform}"] = charts.top_ten_bars(
            [{k: r[k] for k in ("city_id", "rank", "label", "score")} for r in rows],
            f"Top ten on {name}: the {name} index",
            caption,
        )
        chart_set[f"dimensions-{platform}"] = charts.dimension_breakdown(
            [
                {
                    "city_id": r["city_id"],
                    "rank": r["rank"],
                    "label": r["label"],
                    "dimension": dimension,
                    "dimension_score": r[f"{dimension}_score"],
                    "weight": weight,
                    "contribution": weight * r[f"{dimension}_score"],
                }
                for r in rows
                for dimension, weight in dimension_weights.items()
            ],
            f"Why the {name} top ten scored as they did",
            caption,
        )
        moves = movers_of(ranking)
        if moves.height:
            chart_set[f"movers-{platform}"] = charts.movers(
                _mover_records(moves, fonts), f"Movers on {name}", caption
            )
        notable = _notable_posts(posts, platform, rows[:LEADERS_WITH_POSTS])
        first = rows[0] if rows else None
        second = rows[1] if len(rows) > 1 else None
        sections.append(
            {
                "platform": platform,
                "name": name,
                "cities": ranking.height,
                "weight": float(weights.filter(platform=platform)["weight"][0]),
                "why": _why_sentence(name, first, second, platform_dims, dimension_weights) if first else "",
                "rows": rows,
                "shows_views": any(r["views_per_video"] is not None for r in rows),
                "shows_exposures": any(r["exposures"] is not None for r in rows),
                "shows_plays": any(p["plays"] is not None for p in notable),
                "posts": notable,
                "movements": [
                    movement_sentence(r["name_en"], r["previous_rank"], r["rank"], f"on {name}")
                    for r in moves.iter_rows(named=True)
                ],
                "has_movers_chart": moves.height > 0,
            }
        )

    trend_rows = _trends(warehouse, month, version, [r["city_id"] for r in top], fonts)
    trend_months = sorted({r["month"] for r in trend_rows})
    if len(trend_months) > 1:
        current = {r["city_id"]: r["rank"] for r in top}
        chart_set["trend-score"] = charts.score_small_multiples(
            [{**r, "current_rank": current[r["city_id"]]} for r in trend_rows],
            caption,
            title="Score of this month's top ten",
        )
        chart_set["trend-rank"] = charts.trend_lines(
            trend_rows, "rank", caption, title="Rank movement of this month's top ten", axis_title="rank"
        )

    cities = warehouse.read_month("clean.registry_cities", month).select("city_id", "longitude", "latitude")
    map_rows = index.join(cities, on="city_id", how="left")
    chart_set["map"] = charts.city_map(
        [
            {
                "city_id": r["city_id"],
                "label": r["label"],
                "longitude": r["longitude"],
                "latitude": r["latitude"],
                "score": r["score"],
                "rank": r["rank"],
                "top_ten": r["rank"] <= 10,
            }
            for r in _city_rows(map_rows, fonts)
        ],
        caption,
    )

    leader, runner_up = overall[0], overall[1]
    uncertainty = warehouse.read_month("idx.index_uncertainty", month)
    sensitivity = warehouse.read_month("idx.uncertainty_sensitivity", month).sort(
        "share_of_total_variance", descending=True
    )
    qualitative_sources = sorted(set(warehouse.read_month("idx.qualitative_scores", month)["source"]))
    raw_sources = sorted(
        set(
            warehouse.query(
                "SELECT source FROM raw.pulls WHERE list_contains($ids, pull_id)",
                {"ids": list(pub["pull_ids"])},
            )["source"]
        )
    )
    provenance = sorted(set(warehouse.read_month("clean.registry_accounts", month)["provenance"]))
    robust = [r for r in top if r["rank_robust"]]
    content = {
        "title": f"Communication Impact Index on Overseas Social Media — {label}",
        "month": str(month),
        "month_label": label,
        "version": version,
        "publication": pub,
        "published_at": pub["published_at"].strftime("%Y-%m-%d %H:%M UTC"),
        "top": top,
        "headline": (
            f"{leader['name_en']} ({leader['name_zh']}) leads the index in {label} with {leader['score']:.1f}, "
            f"{leader['score'] - runner_up['score']:.1f} points ahead of {runner_up['name_en']} "
            f"({runner_up['score']:.1f}). {_count(len(robust), len(top))} of the top ten ranks are firm "
            f"(a 5–95 % rank interval of at most {methodology.uncertainty.get('robust_interval', 10)} places)."
        ),
        "certainty": _certainty_sentences(top),
        "leaders": [
            f"{s['rows'][0]['name_en']} on {s['name']} ({s['rows'][0]['score']:.1f})"
            for s in sections
            if s["rows"]
        ],
        "overall_movements": overall_sentences,
        "has_previous": previous is not None,
        "previous_month_label": _month_label(month.previous()),
        "sections": sections,
        "trend_months": trend_months,
        "weights": weights.to_dicts(),
        "dimension_weights": dimension_weights,
        "methodology": methodology,
        "quantitative_share": methodology.quantitative_share,
        "qualitative_share": methodology.qualitative_share,
        "uncertainty": {
            "draws": int(uncertainty["draws"][0]) if uncertainty.height else None,
            "seed": int(uncertainty["seed"][0]) if uncertainty.height else None,
            "sensitivity": sensitivity.to_dicts(),
        },
        "checks": checks or [],
        "checks_passed": sum(c.passed for c in checks or []),
        "sources": {"raw": raw_sources, "qualitative": qualitative_sources, "accounts": provenance},
        "trace_city": leader["name_en"],
        "fonts": fonts,
    }
    return content, chart_set


def _count(n: int, of: int) -> str:
    if n == of:
        return "All"
    return (_NUMBER_WORDS[n] if n <= 10 else str(n)).capitalize()


def _certainty_sentences(top: list[dict[str, Any]]) -> list[str]:
    """The firmest and the least firm ranks of the top ten, in words."""
    sentences = []
    width = {r["city_id"]: r["rank_p95"] - r["rank_p05"] for r in top}
    firm = [r for r in top if width[r["city_id"]] == 0]
    if firm:
        names = ", ".join(f"{r['name_en']}'s {ordinal(r['rank'])} place" for r in firm)
        sentences.append(f"{names} held in at least 90 % of the draws.")
    loosest = max(top, key=lambda r: (width[r["city_id"]], -r["rank"]))
    if width[loosest["city_id"]] > 0:
        sentences.append(
            f"The least certain of the top ten is {loosest['name_en']}: published {ordinal(loosest['rank'])}, "
            f"it ranked between {ordinal(loosest['rank_p05'])} and {ordinal(loosest['rank_p95'])} in 90 % of the draws"
            f" (median {loosest['median_rank']:g})."
        )
    return sentences


def _mover_records(moves: pl.DataFrame, fonts: charts.Fonts) -> list[dict[str, Any]]:
    return [
        {k: r[k] for k in ("city_id", "label", "rank", "previous_rank", "rank_change")}
        for r in _city_rows(moves, fonts)
    ]


# -- writing ------------------------------------------------------------------------------------


def _template():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("cityindex_pipeline.report", "templates"),
        autoescape=True,  # every value is text (vendor texts included); only the inlined SVG is `| safe`
        finalize=html_text,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["num"] = _format
    environment.filters["ordinal"] = ordinal
    return environment.get_template("report.html.j2")


def build_report(
    warehouse: Warehouse,
    reports_dir: Path,
    month: Month,
    version: int | None = None,
    checks: list[CheckOutcome] | None = None,
    *,
    require_cjk_font: bool = False,
) -> BuiltReport:
    """Write the report of a publication (the latest if `version` is None) unless it exists already:
    a published version's report is never overwritten."""
    started = time.monotonic()
    pub = publication(warehouse, month, version)
    version = int(pub["version"])
    directory = report_directory(reports_dir, month, version)
    if (directory / "report.html").exists():
        return _built(month, version, directory, started, created=False)
    fonts = charts.prepare_fonts(require_cjk=require_cjk_font)
    content, chart_set = build_content(warehouse, month, version, checks, fonts)
    staging = directory.with_name(f".{directory.name}.{os.getpid()}.{time.time_ns()}")
    staging.mkdir(parents=True)
    try:
        svgs, specs = {}, {}
        for name, chart in chart_set.items():
            svgs[name] = charts.render(chart, fonts, staging / f"{name}.png")
            specs[name] = chart.to_dict()
        html = _template().render(
            **content, svgs=svgs, generated_at=datetime.now().astimezone().isoformat(timespec="seconds")
        )
        (staging / "report.html").write_text(html, encoding="utf-8")
        (staging / "headline.md").write_text(_headline_markdown(content), encoding="utf-8")
        (staging / "charts.json").write_text(
            json.dumps(specs, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
        )
        try:
            staging.rename(directory)
        except OSError:
            if not (directory / "report.html").exists():
                raise
            shutil.rmtree(staging, ignore_errors=True)  # another process wrote the same version first
            return _built(month, version, directory, started, created=False)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _built(
        month, version, directory, started, created=True, warnings=[] if fonts.cjk else [fonts.note]
    )


def _built(
    month: Month,
    version: int,
    directory: Path,
    started: float,
    *,
    created: bool,
    warnings: list[str] | None = None,
) -> BuiltReport:
    """The report as it stands in its folder, whether this call wrote it (`created`) or found it."""
    return BuiltReport(
        month,
        version,
        directory,
        directory / "report.html",
        {p.stem: p for p in sorted(directory.glob("*.png"))},
        created=created,
        seconds=time.monotonic() - started,
        headline_png=directory / "top-ten-overall.png",
        headline_markdown=(directory / "headline.md").read_text(encoding="utf-8"),
        warnings=warnings or [],
    )


def _headline_markdown(content: dict[str, Any]) -> str:
    lines = [
        f"**{content['title']}** (publication v{content['version']})",
        "",
        markdown_text(content["headline"]),
        "",
    ]
    lines += ["| rank | city | score | 5–95 % rank | change |", "|---|---|---|---|---|"]
    for row in content["top"]:
        change = row["rank_change"]
        moved = "new" if change is None else ("=" if change == 0 else charts._arrow(change))
        lines.append(
            f"| {row['rank']} | {markdown_text(row['name_en'])} {markdown_text(row['name_zh'])} | {row['score']:.2f} | "
            f"{row['rank_p05']}–{row['rank_p95']} | {moved} |"
        )
    return "\n".join(lines)
