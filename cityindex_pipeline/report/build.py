"""The monthly report: one self-contained HTML file (charts inlined as SVG) plus the charts as PNGs,
in `$CITYINDEX_HOME/reports/<YYYY-MM>/v<N>/`, built from one publication of a month.

Every number comes from the warehouse (`content`): the ranks and scores from `publish.index` (the
version asked for), the G/I/U parts from `idx.platform_index` (only when they add up to the published
platform scores), account figures and notable posts from `clean.*`; the words from `sentences`. Here
they are drawn (`charts`), put in the template and written. A published version's report is written
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
from cityindex_pipeline.core.render import html_text, markdown_text
from cityindex_pipeline.quality.gates import CheckOutcome
from cityindex_pipeline.report import charts, sentences
from cityindex_pipeline.report.content import PlatformFacts, ReportFacts, publication, read_facts
from cityindex_pipeline.report.rendering import render_charts
from cityindex_pipeline.warehouse.store import Warehouse


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


def build_content(
    warehouse: Warehouse,
    month: Month,
    version: int | None = None,
    checks: list[CheckOutcome] | None = None,
    fonts: charts.Fonts | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the report says (a dict for the template) and its charts (name to Altair chart)."""
    fonts = fonts or charts.prepare_fonts()
    facts = read_facts(warehouse, month, version)
    pub, version, methodology = facts.publication, facts.version, facts.methodology
    label = sentences.month_label(month)
    caption = charts.Caption(label, version, pub["methodology_version"])

    overall = _city_rows(facts.index, fonts)
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
    if facts.overall_movers.height:
        chart_set["movers-overall"] = charts.movers(
            _mover_records(facts.overall_movers, fonts), "Movers overall", caption
        )
    sections = [_section(facts, platform, fonts, caption, chart_set) for platform in facts.platforms]

    trend_rows = [{**row, "month": row["month"].strftime("%Y-%m")} for row in _city_rows(facts.trends, fonts)]
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
            for r in _city_rows(facts.locations, fonts)
        ],
        caption,
    )

    uncertainty = facts.uncertainty
    content = {
        "title": f"Communication Impact Index on Overseas Social Media — {label}",
        "month": str(month),
        "month_label": label,
        "version": version,
        "publication": pub,
        "published_at": pub["published_at"].strftime("%Y-%m-%d %H:%M UTC"),
        "top": top,
        "headline": sentences.headline(top, label, methodology.uncertainty.get("robust_interval", 10)),
        "certainty": sentences.certainty_sentences(top),
        "leaders": [sentences.leader_phrase(s["name"], s["rows"][0]) for s in sections if s["rows"]],
        "overall_movements": sentences.movement_sentences(facts.overall_movers, "overall"),
        "has_previous": facts.has_previous,
        "previous_month_label": sentences.month_label(month.previous()),
        "sections": sections,
        "trend_months": trend_months,
        "weights": facts.weights.to_dicts(),
        "dimension_weights": facts.dimension_weights,
        "methodology": methodology,
        "quantitative_share": methodology.quantitative_share,
        "qualitative_share": methodology.qualitative_share,
        "uncertainty": {
            "draws": int(uncertainty["draws"][0]) if uncertainty.height else None,
            "seed": int(uncertainty["seed"][0]) if uncertainty.height else None,
            "sensitivity": sentences.sensitivity_sentence(facts.sensitivity.to_dicts()),
        },
        "checks": checks or [],
        "checks_passed": sum(c.passed for c in checks or []),
        "sources": facts.sources,
        "trace_city": overall[0]["name_en"],
        "fonts": fonts,
    }
    return content, chart_set


def _section(
    facts: ReportFacts,
    platform: PlatformFacts,
    fonts: charts.Fonts,
    caption: charts.Caption,
    chart_set: dict[str, Any],
) -> dict[str, Any]:
    """A platform's section for the template; its charts are added to `chart_set`."""
    name = sentences.PLATFORM_NAMES[platform.platform]
    dimension_weights = facts.dimension_weights
    rows = _city_rows(platform.top_ten, fonts)
    chart_set[f"top-ten-{platform.platform}"] = charts.top_ten_bars(
        [{k: r[k] for k in ("city_id", "rank", "label", "score")} for r in rows],
        f"Top ten on {name}: the {name} index",
        caption,
    )
    chart_set[f"dimensions-{platform.platform}"] = charts.dimension_breakdown(
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
    moves = platform.movers
    if moves.height:
        chart_set[f"movers-{platform.platform}"] = charts.movers(
            _mover_records(moves, fonts), f"Movers on {name}", caption
        )
    first = rows[0] if rows else None
    second = rows[1] if len(rows) > 1 else None
    return {
        "platform": platform.platform,
        "name": name,
        "cities": platform.ranking.height,
        "weight": platform.weight,
        "why": sentences.why_sentence(name, first, second, platform.dimensions, dimension_weights)
        if first
        else "",
        "rows": rows,
        "shows_views": any(r["views_per_video"] is not None for r in rows),
        "shows_exposures": any(r["exposures"] is not None for r in rows),
        "shows_plays": any(p["plays"] is not None for p in platform.posts),
        "posts": platform.posts,
        "movements": sentences.movement_sentences(moves, f"on {name}"),
        "has_movers_chart": moves.height > 0,
    }


def _city_rows(frame: pl.DataFrame, fonts: charts.Fonts) -> list[dict[str, Any]]:
    return [
        {**row, "label": charts.city_label(row["name_en"], row["name_zh"], fonts)}
        for row in frame.iter_rows(named=True)
    ]


def _mover_records(moves: pl.DataFrame, fonts: charts.Fonts) -> list[dict[str, Any]]:
    return [
        {k: r[k] for k in ("city_id", "label", "rank", "previous_rank", "rank_change")}
        for r in _city_rows(moves, fonts)
    ]


def _format(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


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
    environment.filters["ordinal"] = sentences.ordinal
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
        specs = {name: charts.spec_of(chart) for name, chart in chart_set.items()}
        svgs = render_charts(specs, charts.theme(fonts), fonts.directory, staging)
        html = _template().render(
            **content, svgs=svgs, generated_at=datetime.now().astimezone().isoformat(timespec="seconds")
        )
        (staging / "report.html").write_text(html, encoding="utf-8")
        (staging / "headline.md").write_text(_headline_markdown(content), encoding="utf-8")
        (staging / "charts.json").write_text(
            json.dumps(specs, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
        )
        (staging / RECORD).write_text(_record(month, version, list(specs), fonts), encoding="utf-8")
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


RECORD = "report.json"
"""What the report was built with: its charts and the font that drew them (read by its checks)."""


def _record(month: Month, version: int, chart_names: list[str], fonts: charts.Fonts) -> str:
    font = {"family": fonts.family, "cjk": fonts.cjk, "directory": fonts.directory, "note": fonts.note}
    record = {"month": str(month), "version": version, "charts": chart_names, "font": font}
    return json.dumps(record, ensure_ascii=False, indent=1) + "\n"


def report_files(directory: Path) -> dict[str, Any]:
    """What a report folder holds, for its checks: the charts it lists, each image's size, how many
    charts its HTML inlines, and the font recorded (None for a report written before the record)."""
    listed = directory / "charts.json"
    record = directory / RECORD
    html = directory / "report.html"
    return {
        "charts": list(json.loads(listed.read_text(encoding="utf-8"))) if listed.exists() else [],
        "image_bytes": {p.stem: p.stat().st_size for p in directory.glob("*.png")},
        "inline_svgs": html.read_text(encoding="utf-8").count("<svg") if html.exists() else 0,
        "font": json.loads(record.read_text(encoding="utf-8"))["font"] if record.exists() else None,
    }


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
