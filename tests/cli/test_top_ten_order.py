"""`cityindex top` shows a top ten as the month's methodology says: ranked, or unordered."""

from __future__ import annotations

import dataclasses

import polars as pl
from click.testing import CliRunner

from cityindex_pipeline.cli import main as cli
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import load_methodology
from cityindex_pipeline.warehouse.store import Warehouse

SEPTEMBER = Month(2024, 9)
CITIES = [
    ("nanjing", "Nanjing", "南京", 90.0),
    ("beijing", "Beijing", "北京", 80.0),
    ("xian", "Xi'an", "西安", 70.0),
]


def small_month(home) -> None:
    warehouse = Warehouse(home / "warehouse.duckdb")
    warehouse.ensure_schema()
    cities = pl.DataFrame(
        {
            "registry_version": "v",
            "city_id": [c[0] for c in CITIES],
            "name_en": [c[1] for c in CITIES],
            "name_zh": [c[2] for c in CITIES],
            "province_en": "p",
            "province_zh": "p",
            "tier": "prefecture",
            "longitude": 110.0,
            "latitude": 30.0,
        }
    )
    scores = pl.DataFrame(
        {"city_id": [c[0] for c in CITIES], "score": [c[3] for c in CITIES], "rank": [1, 2, 3]}
    )
    platform = scores.with_columns(
        platform=pl.lit("x"),
        generate_score=pl.col("score"),
        interactive_score=pl.col("score"),
        utilize_score=pl.col("score"),
        in_top_ten=True,
        methodology_version=pl.lit("0.4.0"),
    )
    comprehensive = scores.with_columns(
        quantitative_score=pl.col("score"),
        qualitative_score=pl.col("score"),
        quantitative_share=0.8,
        qualitative_share=0.2,
        platforms_present=1,
        methodology_version=pl.lit("0.4.0"),
    )
    warehouse.replace_month(
        SEPTEMBER,
        "run",
        {
            "clean.registry_cities": cities,
            "idx.platform_index": platform,
            "idx.comprehensive_index": comprehensive,
        },
    )


def test_the_platform_top_ten_is_ranked_or_alphabetical_as_the_methodology_says(tmp_path, monkeypatch):
    small_month(tmp_path)
    monkeypatch.setenv("CITYINDEX_HOME", str(tmp_path))
    ranked = CliRunner().invoke(cli.main, ["top", "--month", "2024-09", "--platform", "x"])
    assert ranked.exit_code == 0, ranked.output
    assert ranked.output.index("Nanjing") < ranked.output.index("Beijing") and "Rank" in ranked.output

    unordered = dataclasses.replace(load_methodology("0.4.0"), top_ten_order="alphabetical")
    monkeypatch.setattr(cli, "load_methodology", lambda version=None: unordered)
    shown = CliRunner().invoke(cli.main, ["top", "--month", "2024-09", "--platform", "x"])
    assert shown.exit_code == 0, shown.output
    assert "alphabetical order (unranked)" in shown.output
    assert shown.output.index("Beijing") < shown.output.index("Nanjing") < shown.output.index("Xi'an")
    assert "Rank" not in shown.output and "90.00" not in shown.output, "no ranks or scores shown"
