"""The monthly report of the demo months: built by the graph, numbers equal to the publication, nothing
fetched from outside, rendered by a real browser, never overwritten."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from PIL import Image, ImageStat
from support.runs import in_memory_instance, make_settings, materialize

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.report.build import build_report, report_directory
from cityindex_pipeline.report.content import ReportError, platform_ranking
from cityindex_pipeline.warehouse.store import Warehouse

SEPTEMBER, AUGUST = Month(2024, 9), Month(2024, 8)


def specs(settings, month: Month = SEPTEMBER, version: int = 1) -> dict:
    directory = report_directory(settings.reports_dir, month, version)
    return json.loads((directory / "charts.json").read_text(encoding="utf-8"))


def values(spec: dict) -> list[dict]:
    return spec["data"]["values"]


def published(warehouse: Warehouse, month: Month = SEPTEMBER) -> pl.DataFrame:
    return warehouse.read_month("publish.index", month).filter(version=1).sort("rank", "city_id")


def test_the_graph_builds_a_report_for_each_demo_month(september_home):
    for month in (AUGUST, SEPTEMBER):
        directory = report_directory(september_home.reports_dir, month, 1)
        assert (directory / "report.html").stat().st_size > 50_000, month
        pngs = sorted(directory.glob("*.png"))
        assert {p.stem for p in pngs} >= {"top-ten-overall", "rank-intervals", "map"} | {
            f"{kind}-{platform}" for platform in PLATFORMS for kind in ("top-ten", "dimensions")
        }
        for png in pngs:
            with Image.open(png) as image:
                assert ImageStat.Stat(image.convert("L")).stddev[0] > 10, png.name
    september = {p.stem for p in report_directory(september_home.reports_dir, SEPTEMBER, 1).glob("*.png")}
    assert {"trend-score", "trend-rank", "movers-overall"} <= september, "August is there to compare with"


def test_every_chart_draws_the_published_numbers(september_home, september_warehouse):
    charts = specs(september_home)
    index = published(september_warehouse)
    top = index.head(10)

    def by_city(rows: list[dict], *columns: str) -> dict:
        return {r["city_id"]: tuple(r[c] for c in columns) for r in rows}

    assert by_city(values(charts["top-ten-overall"]), "rank", "score") == by_city(
        top.to_dicts(), "rank", "score"
    )
    assert by_city(
        values(charts["rank-intervals"]), "rank", "median_rank", "rank_p05", "rank_p95"
    ) == by_city(top.to_dicts(), "rank", "median_rank", "rank_p05", "rank_p95")
    assert by_city(values(charts["map"]), "score", "rank") == by_city(index.to_dicts(), "score", "rank")
    assert len(values(charts["map"])) == 133
    stored = september_warehouse.read_month("idx.platform_index", SEPTEMBER)
    for platform in PLATFORMS:
        ranking = platform_ranking(index, platform).head(10)
        drawn = by_city(values(charts[f"top-ten-{platform}"]), "rank", "score")
        assert drawn == by_city(ranking.to_dicts(), "rank", "score"), platform
        assert drawn == by_city(
            stored.filter(platform=platform, in_top_ten=True).to_dicts(), "rank", "score"
        ), f"{platform}: the published scores rank as the method ranked them"
        parts = pl.DataFrame(values(charts[f"dimensions-{platform}"]))
        sums = parts.group_by("city_id").agg(pl.col("contribution").sum())
        for city_id, total in sums.iter_rows():
            assert abs(total - drawn[city_id][1]) < 1e-9, f"{platform} {city_id}: the stack is the score"
    movers = values(charts["movers-overall"])
    changes = dict(index.select("city_id", "rank_change").iter_rows())
    assert all(r["rank_change"] == changes[r["city_id"]] for r in movers) and len(movers) == 10
    for month in (AUGUST, SEPTEMBER):
        month_rows = published(september_warehouse, month).filter(
            pl.col("city_id").is_in(top["city_id"].to_list())
        )
        drawn_scores = {
            r["city_id"]: r["score"] for r in values(charts["trend-score"]) if r["month"] == str(month)
        }
        assert drawn_scores == dict(month_rows.select("city_id", "score").iter_rows()), month
    trend = values(charts["trend-rank"])
    august = dict(published(september_warehouse, AUGUST).select("city_id", "rank").iter_rows())
    assert {r["city_id"]: r["rank"] for r in trend if r["month"] == "2024-08"} == {
        city_id: august[city_id] for city_id in top["city_id"]
    }


class _Fetches(HTMLParser):
    """Everything in a page that would make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.links = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a":
            self.links += 1  # navigation on click, not a fetch
            return
        if tag in ("script", "link", "iframe", "object", "embed", "base"):
            self.fetches.append(f"<{tag}>")
        for name in ("src", "href", "xlink:href", "srcset", "data", "poster", "background"):
            value = attributes.get(name)
            if value and not value.startswith(("data:", "#")):
                self.fetches.append(f"<{tag} {name}={value}>")
        style = attributes.get("style") or ""
        if "url(" in style:
            self.fetches.append(f"<{tag} style={style}>")


def test_every_chart_is_a_valid_vega_lite_specification(september_home):
    """The report writes its charts unvalidated (`charts.spec_of`): the schema is checked here, on
    every chart of every demo month, as Altair would check it."""
    from altair.utils.schemapi import validate_jsonschema
    from altair.vegalite.v6.schema import load_schema

    schema = load_schema()
    for month in (AUGUST, SEPTEMBER):
        for name, spec in specs(september_home, month).items():
            error = validate_jsonschema(spec, schema, raise_error=False)
            assert error is None, f"{month} {name}: {error}"
    broken = next(iter(specs(september_home).values())) | {"mark": "no-such-mark"}
    assert validate_jsonschema(broken, schema, raise_error=False) is not None, "the check can fail"


def test_the_report_is_self_contained(september_home):
    html = (report_directory(september_home.reports_dir, SEPTEMBER, 1) / "report.html").read_text(
        encoding="utf-8"
    )
    parser = _Fetches()
    parser.feed(html)
    assert parser.fetches == []
    assert parser.links > 0, "permalinks of the notable posts are plain links"
    assert "@import" not in html and "url(" not in html and "@font-face" not in html
    assert html.count("<svg") >= 14, "charts are inlined as SVG"
    for phrase in (
        "How sure are the ranks?",
        "cityindex trace --city",
        "Notable posts of the leaders",
        "上海",
    ):
        assert phrase in html


def test_the_report_renders_in_headless_chromium(september_home, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    html = report_directory(september_home.reports_dir, SEPTEMBER, 1) / "report.html"
    screenshot = tmp_path / "report.png"
    done = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,3000",
            f"--screenshot={screenshot}", html.as_uri(),
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0 and screenshot.exists(), done.stderr[-2000:]
    with Image.open(screenshot) as image:
        grey = image.convert("L")
        assert grey.size == (1100, 3000)
        assert ImageStat.Stat(grey).stddev[0] > 20, "the page is not blank"
        dark = sum(grey.histogram()[:128]) / (grey.size[0] * grey.size[1])
        assert dark > 0.01, f"text and charts cover {dark:.2%} of the page"


def test_a_published_versions_report_is_never_overwritten(september_home):
    directory = report_directory(september_home.reports_dir, SEPTEMBER, 1)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in directory.iterdir()}
    again = build_report(Warehouse(september_home.warehouse_path), september_home.reports_dir, SEPTEMBER)
    assert not again.created and again.version == 1
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in directory.iterdir()} == before


def test_a_version_whose_detail_was_replaced_is_refused(september_home, tmp_path):
    """A new version published with different numbers: v1's report stays; v2's detail tables do not
    match it, so its report is refused rather than mixing two runs."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    shutil.copy(september_home.warehouse_path, warehouse.path)
    rows = published(warehouse).with_columns(pl.col("x_score") + 1.0)
    warehouse.publish(
        {**warehouse.publications(SEPTEMBER).row(0, named=True), "version": 2, "content_sha256": "changed"},
        rows.with_columns(version=pl.lit(2, pl.Int32)),
    )
    with pytest.raises(ReportError, match=r"the x detail in idx\.platform_index"):
        build_report(warehouse, tmp_path / "reports", SEPTEMBER)
    assert not (tmp_path / "reports" / "2024-09" / "v2").exists()
    with pytest.raises(ReportError, match="no publication v7"):
        build_report(warehouse, tmp_path / "reports", SEPTEMBER, version=7)


def test_the_asset_attaches_the_report_to_its_materialisation(september_home, tmp_path):
    settings = replace(
        make_settings(tmp_path), files_url="http://127.0.0.1:3001"
    )  # as `cityindex dev` sets it
    shutil.copy(september_home.warehouse_path, settings.warehouse_path)
    with in_memory_instance() as instance:
        result = materialize(
            settings, SEPTEMBER, selection=dg.AssetSelection.assets("monthly_report"), instance=instance
        )
        assert result.success
        (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    report = Path(metadata["report"].value)
    assert report == report_directory(settings.reports_dir, SEPTEMBER, 1) / "report.html" and report.exists()
    assert metadata["new_report"].value is True and metadata["version"].value == 1
    assert metadata["report_url"].value == "http://127.0.0.1:3001/reports/2024-09/v1/report.html"
    assert metadata["headline"].value.startswith("![top ten](data:image/png;base64,")
    leader = published(Warehouse(settings.warehouse_path)).row(0, named=True)
    assert (
        f"| 1 | {leader['name_en']} {leader['name_zh']} | {leader['score']:.2f} |"
        in metadata["headline"].value
    )
