"""Drawing a report's charts on several processes gives the images one process draws, in order."""

from __future__ import annotations

import pytest

from cityindex_pipeline.report import charts
from cityindex_pipeline.report.rendering import render_charts


def _specs(count: int) -> dict[str, dict]:
    return {
        f"chart-{i}": {
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "data": {"values": [{"city": "Nanjing 南京", "score": 10.0 * i + 5}]},
            "mark": "bar",
            "encoding": {
                "x": {"field": "score", "type": "quantitative"},
                "y": {"field": "city", "type": "nominal"},
            },
        }
        for i in range(count)
    }


def test_charts_drawn_by_helpers_are_those_one_process_draws(tmp_path):
    fonts = charts.prepare_fonts()
    specs = _specs(5)
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    alone.mkdir(), shared.mkdir()

    one = render_charts(specs, charts.theme(fonts), fonts.directory, alone, workers=1)
    three = render_charts(specs, charts.theme(fonts), fonts.directory, shared, workers=3)

    assert list(three) == list(specs), "in the order given"
    assert three == one and all(svg.startswith("<svg") for svg in one.values())
    assert sorted(p.name for p in shared.iterdir()) == sorted(f"{name}.png" for name in specs)
    for name in specs:
        assert (shared / f"{name}.png").read_bytes() == (alone / f"{name}.png").read_bytes()


def test_a_chart_a_helper_cannot_draw_fails_the_report(tmp_path):
    fonts = charts.prepare_fonts()
    specs = _specs(2)
    specs["chart-1"] = {**specs["chart-1"], "mark": "no-such-mark"}
    with pytest.raises(RuntimeError, match="a chart could not be drawn"):
        render_charts(specs, charts.theme(fonts), fonts.directory, tmp_path, workers=2)
