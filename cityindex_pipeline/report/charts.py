"""The report's charts: Altair specifications with their data inline, rendered offline by vl-convert.

One grey theme readable in black and white: series differ by shade, shape and direct labels, never by
colour alone. Every chart's data is a list of plain records (`spec["data"]["values"]`), so a test can
compare what a chart draws with the published numbers.

Chinese city names need a CJK font: vl-convert draws PNGs with its own renderer and shows missing
glyphs as empty boxes. `prepare_fonts()` registers Debian's `fonts-noto-cjk` (or the directory in
`CITYINDEX_CJK_FONT_DIR`); without one, charts label cities in English only and say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt

from cityindex_pipeline.core.variables import CJK_FONT_DIR_VARIABLE as CJK_FONT_ENV
from cityindex_pipeline.core.variables import cjk_font_dir_from_env
from cityindex_pipeline.report.rendering import PNG_SCALE, draw, register_fonts

CJK_FONT_FAMILY = "Noto Sans CJK SC"
CJK_FONT_DIRS = (
    "/usr/share/fonts/opentype/noto",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/noto-cjk",
    "/usr/share/fonts/google-noto-cjk",  # Fedora
    "/usr/share/fonts/truetype/noto",
)
_CJK_FILE_PREFIXES = ("NotoSansCJK", "NotoSansSC", "NotoSerifCJK")
_FONT_SUFFIXES = (".ttc", ".otf", ".ttf")

INK = "#1a1a1a"
SHADES = ("#1a1a1a", "#7a7a7a", "#c4c4c4")  # dark, mid, light: separable when printed in grey
WIDTH = 520


class MissingFontError(RuntimeError):
    """Chinese names were asked for but no CJK font can be found."""


@dataclass(frozen=True)
class Fonts:
    """Which font the charts use, and whether it can draw Chinese."""

    family: str
    cjk: bool
    directory: str | None

    @property
    def note(self) -> str:
        if self.cjk:
            return f"Chinese names drawn with {self.family} from {self.directory}"
        return (
            "no CJK font found (install Debian's fonts-noto-cjk or set CITYINDEX_CJK_FONT_DIR): "
            "chart images name cities in English only"
        )


def find_cjk_font_directory(environ: dict[str, str] | None = None) -> Path | None:
    """The directory holding a Noto CJK font: `CITYINDEX_CJK_FONT_DIR` if set, else the usual places."""
    override = cjk_font_dir_from_env(environ)
    candidates = [Path(override)] if override else [Path(d) for d in CJK_FONT_DIRS]
    for directory in candidates:
        if directory.is_dir() and any(
            f.name.startswith(_CJK_FILE_PREFIXES) and f.suffix.lower() in _FONT_SUFFIXES
            for f in directory.iterdir()
        ):
            return directory
    return None


def prepare_fonts(*, require_cjk: bool = False, environ: dict[str, str] | None = None) -> Fonts:
    """Register the CJK font with vl-convert once per process; without one, fall back to English
    labels, or raise `MissingFontError` when `require_cjk`."""
    directory = find_cjk_font_directory(environ)
    if directory is None:
        if require_cjk:
            raise MissingFontError(
                "no CJK font for Chinese city names: install it (Debian: apt-get install fonts-noto-cjk) "
                f"or point {CJK_FONT_ENV} at a directory holding Noto Sans CJK"
            )
        return Fonts(family="sans-serif", cjk=False, directory=None)
    register_fonts(str(directory.resolve()))
    return Fonts(family=CJK_FONT_FAMILY, cjk=True, directory=str(directory))


def city_label(name_en: str, name_zh: str, fonts: Fonts) -> str:
    return f"{name_en} {name_zh}" if fonts.cjk else name_en


def theme(fonts: Fonts) -> dict[str, Any]:
    """The one theme: greys, the chart font everywhere, light grid, left-aligned titles."""
    font = f"{fonts.family}, sans-serif" if fonts.cjk else "sans-serif"
    return {
        "font": font,
        "background": "white",
        "view": {"stroke": None},
        "title": {"anchor": "start", "fontSize": 15, "subtitleFontSize": 11, "subtitleColor": "#555"},
        "axis": {
            "labelColor": INK,
            "titleColor": INK,
            "gridColor": "#e3e3e3",
            "domainColor": "#888",
            "tickColor": "#888",
            "labelFontSize": 11,
            "titleFontSize": 11,
        },
        "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "bottom"},
        "bar": {"fill": SHADES[1]},
        "line": {"stroke": INK},
        "point": {"fill": INK},
        "range": {"category": list(SHADES)},
    }


@dataclass(frozen=True)
class Caption:
    """What every chart says under its title: the month, the publication and the method it follows."""

    month_label: str
    version: int
    methodology_version: str

    def subtitle(self, what: str) -> list[str]:
        return [
            what,
            f"{self.month_label} · publication v{self.version} · methodology {self.methodology_version}",
        ]


def _title(text: str, caption: Caption, what: str) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=caption.subtitle(what))


def _records(rows: list[dict[str, Any]]) -> alt.Data:
    return alt.Data(values=rows)


def top_ten_bars(rows: list[dict[str, Any]], title: str, caption: Caption) -> alt.LayerChart:
    """Horizontal bars in rank order, each labelled with its score. Rows: rank, label, score."""
    order = [r["label"] for r in sorted(rows, key=lambda r: (r["rank"], r["label"]))]
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    base = alt.Chart().encode(
        y=y,
        x=alt.X("score:Q", title="score (0–100)", scale=alt.Scale(domain=[0, 100])),
        tooltip=["rank:O", "label:N", alt.Tooltip("score:Q", format=".2f")],
    )
    bars = base.mark_bar(fill=SHADES[1], stroke=INK, strokeWidth=0.5, height=16)
    labels = base.mark_text(align="left", dx=4, color=INK, fontSize=11).encode(
        text=alt.Text("score:Q", format=".1f")
    )
    ranks = (
        alt.Chart()
        .mark_text(align="right", dx=-4, color="white", fontWeight="bold", fontSize=10)
        .encode(y=y, x=alt.X("score:Q"), text=alt.Text("rank:O"))
    )
    return alt.layer(bars, labels, ranks, data=_records(rows)).properties(
        width=WIDTH, height=24 * len(rows), title=_title(title, caption, "score 0–100, higher is better")
    )


def rank_intervals(rows: list[dict[str, Any]], caption: Caption) -> alt.LayerChart:
    """Dot and interval: the published rank (filled circle), the median rank of the draws (open
    diamond) and the 5–95 % interval (line). Rows: rank, label, median_rank, rank_p05, rank_p95."""
    order = [r["label"] for r in sorted(rows, key=lambda r: (r["rank"], r["label"]))]
    top = max(r["rank_p95"] for r in rows)
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    x_scale = alt.Scale(domain=[0.5, max(top, 10) + 0.5], nice=False)
    base = alt.Chart().encode(y=y)
    interval = base.mark_rule(stroke=INK, strokeWidth=2).encode(
        x=alt.X("rank_p05:Q", scale=x_scale, title="rank (1 = first)"), x2="rank_p95:Q"
    )
    ends = [
        base.mark_tick(color=INK, thickness=2, size=12).encode(x=alt.X(f"{column}:Q", scale=x_scale))
        for column in ("rank_p05", "rank_p95")
    ]
    published = base.mark_point(shape="circle", filled=True, size=130, color=INK, opacity=1).encode(
        x=alt.X("rank:Q", scale=x_scale),
        tooltip=["label:N", "rank:Q", "median_rank:Q", "rank_p05:Q", "rank_p95:Q"],
    )
    median = base.mark_point(
        shape="diamond", filled=True, size=55, fill="white", stroke=INK, strokeWidth=1.5
    ).encode(x=alt.X("median_rank:Q", scale=x_scale))
    return alt.layer(interval, *ends, published, median, data=_records(rows)).properties(
        width=WIDTH,
        height=26 * len(rows),
        title=_title(
            "How sure are the ranks?",
            caption,
            "● published rank   ◇ median rank of the draws   |—| 5–95 % interval of the draws",
        ),
    )


DIMENSION_LABELS = {
    "generate": "Generate (content)",
    "interactive": "Interactive",
    "utilize": "Utilize (audience)",
}


def dimension_breakdown(rows: list[dict[str, Any]], title: str, caption: Caption) -> alt.Chart:
    """Stacked bars: each dimension's weighted contribution to a city's platform score; the stack is
    the score. Rows: rank, label, dimension, dimension_score, weight, contribution."""
    order = sorted({(r["rank"], r["label"]) for r in rows})
    names = list(DIMENSION_LABELS)
    records = [{**r, "dimension_label": DIMENSION_LABELS[r["dimension"]]} for r in rows]
    return (
        alt.Chart(_records(records))
        .mark_bar(stroke="white", strokeWidth=1, height=16)
        .encode(
            y=alt.Y("label:N", sort=[label for _, label in order], title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X(
                "contribution:Q",
                stack="zero",
                title="points of the platform score (0–100)",
                scale=alt.Scale(domain=[0, 100]),
            ),
            fill=alt.Fill(
                "dimension_label:N",
                sort=[DIMENSION_LABELS[n] for n in names],
                scale=alt.Scale(domain=[DIMENSION_LABELS[n] for n in names], range=list(SHADES)),
                title="weight × dimension score",
            ),
            order=alt.Order("dimension_order:Q"),
            tooltip=[
                "label:N",
                "dimension_label:N",
                alt.Tooltip("dimension_score:Q", format=".1f"),
                "weight:Q",
                alt.Tooltip("contribution:Q", format=".2f"),
            ],
        )
        .transform_calculate(
            dimension_order="datum.dimension === 'generate' ? 0 : datum.dimension === 'interactive' ? 1 : 2"
        )
        .properties(
            width=WIDTH,
            height=24 * len(order),
            title=_title(title, caption, "Generate, Interactive and Utilize, each times its weight"),
        )
    )


def trend_lines(
    rows: list[dict[str, Any]], measure: str, caption: Caption, *, title: str, axis_title: str
) -> alt.LayerChart:
    """Lines over months with the city named at its last point (a bump chart when `measure` is rank,
    drawn with rank 1 at the top). Rows: month (YYYY-MM), label, rank, score."""
    is_rank = measure == "rank"
    months = sorted({r["month"] for r in rows})
    last = months[-1]
    y_scale = alt.Scale(reverse=True, zero=False, domainMin=1) if is_rank else alt.Scale(zero=False)
    x = alt.X("month:O", sort=months, title="month", axis=alt.Axis(labelAngle=0))
    base = alt.Chart().encode(x=x, y=alt.Y(f"{measure}:Q", scale=y_scale, title=axis_title))
    lines = base.mark_line(strokeWidth=1.5, color=INK).encode(detail="label:N")
    points = base.mark_point(filled=True, size=40, color=INK).encode(
        shape=alt.Shape("label:N", legend=None),
        tooltip=["month:O", "label:N", "rank:Q", alt.Tooltip("score:Q", format=".2f")],
    )
    ends = (
        base.transform_filter(alt.datum.month == last)
        .mark_text(align="left", dx=8, fontSize=10, color=INK)
        .encode(text="label:N")
    )
    return alt.layer(lines, points, ends, data=_records(rows)).properties(
        width=WIDTH - 120,
        height=320,
        title=_title(title, caption, f"this month's top ten over {len(months)} published month(s)"),
    )


def score_small_multiples(rows: list[dict[str, Any]], caption: Caption, *, title: str) -> alt.FacetChart:
    """One small panel per city (in this month's rank order) of its score over the months, on a shared
    scale: close scores cannot hide each other's labels. Rows: month (YYYY-MM), label, rank, score,
    current_rank."""
    months = sorted({r["month"] for r in rows})
    order = [label for _, label in sorted({(r["current_rank"], r["label"]) for r in rows})]
    base = alt.Chart().encode(
        x=alt.X("month:O", sort=months, title=None, axis=alt.Axis(labelAngle=0, labelFontSize=9)),
        y=alt.Y("score:Q", scale=alt.Scale(zero=False), title="score (0–100)"),
    )
    line = base.mark_line(strokeWidth=1.5, color=INK)
    points = base.mark_point(filled=True, size=30, color=INK).encode(
        tooltip=["month:O", "label:N", "rank:Q", alt.Tooltip("score:Q", format=".2f")]
    )
    values = base.mark_text(dy=-9, fontSize=9, color=INK).encode(text=alt.Text("score:Q", format=".0f"))
    return (
        alt.layer(line, points, values, data=_records(rows))
        .properties(width=150, height=90)
        .facet(
            facet=alt.Facet("label:N", sort=order, title=None, header=alt.Header(labelFontSize=11)),
            columns=5,
            title=_title(
                title, caption, f"this month's top ten over {len(months)} published month(s), in rank order"
            ),
        )
    )


def movers(rows: list[dict[str, Any]], title: str, caption: Caption) -> alt.LayerChart:
    """Diverging bars of places gained (dark, ▲) and lost (light, ▼). Rows: label, rank_change, rank,
    previous_rank."""
    records = [
        {**r, "direction": "rose" if r["rank_change"] > 0 else "fell", "arrow": _arrow(r["rank_change"])}
        for r in rows
    ]
    order = [r["label"] for r in sorted(records, key=lambda r: (-r["rank_change"], r["label"]))]
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    base = alt.Chart().encode(y=y)
    bars = base.mark_bar(stroke=INK, strokeWidth=0.5, height=14).encode(
        x=alt.X("rank_change:Q", title="places gained (+) or lost (−) since last month"),
        fill=alt.Fill(
            "direction:N", scale=alt.Scale(domain=["rose", "fell"], range=[SHADES[0], SHADES[2]]), title=None
        ),
        tooltip=["label:N", "previous_rank:Q", "rank:Q", "rank_change:Q"],
    )
    rise_labels = (
        base.transform_filter(alt.datum.rank_change > 0)
        .mark_text(fontSize=10, color=INK, align="left", dx=4)
        .encode(x=alt.X("rank_change:Q"), text="arrow:N")
    )
    fall_labels = (
        base.transform_filter(alt.datum.rank_change < 0)
        .mark_text(fontSize=10, color=INK, align="right", dx=-4)
        .encode(x=alt.X("rank_change:Q"), text="arrow:N")
    )
    return alt.layer(bars, rise_labels, fall_labels, data=_records(records)).properties(
        width=WIDTH - 60,
        height=22 * max(len(records), 1),
        title=_title(title, caption, "largest rises and falls in rank, month on month"),
    )


def _arrow(change: int) -> str:
    return f"▲{change}" if change > 0 else f"▼{-change}"


def city_map(rows: list[dict[str, Any]], caption: Caption) -> alt.LayerChart:
    """Every city at its longitude and latitude (equirectangular, no base map), sized by score; the
    top ten filled and named. Rows: label, longitude, latitude, score, rank, top_ten."""
    base = alt.Chart().encode(longitude="longitude:Q", latitude="latitude:Q")
    size = alt.Size("score:Q", scale=alt.Scale(domain=[0, 100], range=[10, 500]), title="score (0–100)")
    fill = alt.Fill(
        "group:N", scale=alt.Scale(domain=["top ten", "other cities"], range=[INK, "white"]), title=None
    )
    tooltip = ["label:N", "rank:Q", alt.Tooltip("score:Q", format=".2f")]
    others = (
        base.transform_filter("!datum.top_ten")
        .mark_point(strokeWidth=1, stroke=INK, opacity=0.9)
        .encode(size=size, fill=fill, tooltip=tooltip)
    )
    leaders = (
        base.transform_filter(alt.datum.top_ten)
        .mark_point(strokeWidth=1, stroke="white", opacity=1)
        .encode(size=size, fill=fill, tooltip=tooltip)
    )
    names = (
        base.transform_filter(alt.datum.top_ten)
        .mark_text(align="left", dx=9, dy=-4, fontSize=10, color=INK)
        .encode(text="label:N")
    )
    return (
        alt.layer(others, leaders, names, data=_records(rows))
        .transform_calculate(group="datum.top_ten ? 'top ten' : 'other cities'")
        .project(type="equirectangular")
        .properties(
            width=WIDTH,
            height=420,
            title=_title(
                "Where the cities are", caption, "each city at its longitude and latitude, area by score"
            ),
        )
    )


def spec_of(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite specification. Not validated against the schema here (a second or more
    of every report): the specifications are the code's, and the report's tests validate each one."""
    return chart.to_dict(validate=False)


def render(spec: dict[str, Any], fonts: Fonts, png_path: Path, *, scale: float = PNG_SCALE) -> str:
    """One chart as SVG text (for inlining) and as a PNG file, in this process (a report draws its
    charts with `rendering.render_charts`)."""
    return draw(spec, theme(fonts), png_path, scale)
