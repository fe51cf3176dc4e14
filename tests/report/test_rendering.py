"""Drawing a report's charts on drawers (helper processes) gives the images one process draws, in
order; drawers started with a run draw the report without this process; a drawer gone has its
charts drawn here."""

from __future__ import annotations

import logging

import dagster as dg
import pytest

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.report import charts, rendering
from cityindex_pipeline.report.rendering import render_charts
from tests.support.runs import in_memory_instance, make_settings, materialize

SEPTEMBER = Month(2024, 9)


@pytest.fixture(autouse=True)
def no_drawers_before_or_after():
    rendering.stop_drawers()
    yield
    rendering.stop_drawers()


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
    assert rendering.running_drawers() == 0, "one share: drawn here, no drawer started"
    three = render_charts(specs, charts.theme(fonts), fonts.directory, shared, workers=3)
    assert rendering.running_drawers() == 2, "two drawers beside this process, kept for the next report"

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


def test_drawers_started_beforehand_draw_every_share_and_one_gone_is_drawn_here(
    tmp_path, caplog, monkeypatch
):
    fonts = charts.prepare_fonts()
    specs = _specs(4)
    alone, drawn, after_loss = tmp_path / "alone", tmp_path / "drawn", tmp_path / "after_loss"
    for directory in (alone, drawn, after_loss):
        directory.mkdir()
    one = render_charts(specs, charts.theme(fonts), fonts.directory, alone, workers=1)

    rendering.start_drawers(2)

    def not_here(*_arguments, **_options):
        raise AssertionError("drawn in this process")

    with monkeypatch.context() as patched:
        patched.setattr(rendering, "draw", not_here)
        by_drawers = render_charts(specs, charts.theme(fonts), fonts.directory, drawn, workers=2)
    assert by_drawers == one, "the drawers drew every chart, as this process does"

    gone = rendering._DRAWERS[1]
    gone.process.kill()
    gone.process.wait()
    replaced = render_charts(specs, charts.theme(fonts), fonts.directory, after_loss, workers=2)
    assert replaced == one, "a drawer found gone before the report: its share drawn here"

    gone = next(d for d in rendering._DRAWERS if d.alive())
    gone.process.kill()
    gone.process.wait()
    monkeypatch.setattr(gone, "alive", lambda: True)  # it stops after it was counted
    with caplog.at_level(logging.WARNING, logger="cityindex.report"):
        recovered = render_charts(specs, charts.theme(fonts), fonts.directory, after_loss, workers=2)
    assert recovered == one
    assert any("drawer stopped" in r.getMessage() for r in caplog.records)
    for name in specs:
        assert (after_loss / f"{name}.png").read_bytes() == (alone / f"{name}.png").read_bytes()


def test_a_run_with_the_report_starts_drawers_and_a_run_without_it_none(tmp_path):
    settings, instance = make_settings(tmp_path), in_memory_instance()
    reference = dg.AssetSelection.assets("account_registry", "platform_reference")
    assert materialize(settings, SEPTEMBER, reference, instance).success
    assert rendering.running_drawers() == 0
    # the drawers start with the run, before any step: here the report's step itself fails, as
    # nothing of the month is published
    materialize(settings, SEPTEMBER, dg.AssetSelection.assets("monthly_report"), instance)
    assert rendering.running_drawers() == rendering.default_workers()


def test_the_resource_asked_not_to_start_with_the_run_starts_no_drawer():
    from cityindex_pipeline.defs.resources import ChartsResource

    ChartsResource(start_with_run=False).setup_for_execution(dg.build_init_resource_context())
    assert rendering.running_drawers() == 0
    ChartsResource().setup_for_execution(dg.build_init_resource_context())
    assert rendering.running_drawers() == rendering.default_workers()
