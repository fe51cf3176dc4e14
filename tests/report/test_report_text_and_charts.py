"""The report's words and charts without a warehouse: sentences, movers, fonts and rendering."""

from __future__ import annotations

import io

import altair as alt
import polars as pl
import pytest
from PIL import Image, ImageChops, ImageStat

from cityindex_pipeline.report import charts
from cityindex_pipeline.report.content import movers_of, platform_ranking, with_previous
from cityindex_pipeline.report.sentences import movement_sentence, ordinal, sensitivity_sentence


def test_movements_are_written_out_in_words():
    assert movement_sentence("Hangzhou", 7, 2, "on Instagram") == (
        "Hangzhou rose five places on Instagram, from 7th to 2nd."
    )
    assert movement_sentence("Sanya", 41, 78, "overall") == "Sanya fell 37 places overall, from 41st to 78th."
    assert movement_sentence("Xi'an", 3, 4, "on X") == "Xi'an fell one place on X, from 3rd to 4th."
    assert movement_sentence("Harbin", 12, 12, "overall") == "Harbin held 12th overall."
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip


def test_the_sensitivity_is_told_as_sobol_indices_or_as_the_legacy_shares():
    sobol = {
        "choice": "normalisation", "first_order": 0.736, "first_order_low": 0.673, "first_order_high": 0.797,
        "total_order": 0.77, "total_order_low": 0.714, "total_order_high": 0.82, "interaction_share": 0.041,
        "model_runs": 3072, "confidence": 0.95, "share_of_total_variance": None,
    }  # fmt: skip
    assert sensitivity_sentence([sobol]) == (
        "What moves the ranks most, as shares of the rank variance (Sobol first-order and total indices, 95 %"
        " bootstrap intervals, 3,072 model runs): normalisation 0.74 (0.67–0.80) alone, 0.77 (0.71–0.82) in"
        " all. Interactions between the choices account for 4 % of the variance."
    )
    legacy = {"choice": "platform_weights", "share_of_total_variance": 0.414, "first_order": None}
    assert sensitivity_sentence([legacy]) == (
        "What moves the ranks most: platform weights (41 % of the rank variance)."
    )
    assert sensitivity_sentence([]) is None


def test_platform_ranks_and_movers_come_from_published_scores():
    index = pl.DataFrame(
        {
            "city_id": ["a", "b", "c", "d", "e"],
            "name_en": ["A", "B", "C", "D", "E"],
            "name_zh": ["甲", "乙", "丙", "丁", "戊"],
            "x_score": [50.0, 70.0, None, 70.0, 10.0],
        }
    )
    previous = index.with_columns(x_score=pl.Series([90.0, 10.0, 40.0, 80.0, 60.0]))
    ranking = with_previous(platform_ranking(index, "x"), platform_ranking(previous, "x"))
    assert ranking.select("city_id", "rank", "previous_rank", "rank_change").rows() == [
        ("b", 1, 5, 4),
        ("d", 1, 2, 1),
        ("a", 3, 1, -2),
        ("e", 4, 3, -1),
    ], "competition ranking over the cities with an account; the city without one is absent"
    moves = movers_of(ranking, each_way=1)
    assert moves["city_id"].to_list() == ["b", "a"], "the largest rise, then the largest fall"
    assert with_previous(platform_ranking(index, "x"), None)["rank_change"].null_count() == 4


def _png_of_text(text: str, fonts: charts.Fonts, tmp_path) -> Image.Image:
    chart = alt.Chart(alt.Data(values=[{"t": text}])).mark_text(fontSize=40).encode(text="t:N")
    path = tmp_path / "text.png"
    charts.render(charts.spec_of(chart.properties(width=200, height=80)), fonts, path, scale=1)
    return Image.open(io.BytesIO(path.read_bytes())).convert("L")


def test_chinese_city_names_render_as_characters(tmp_path):
    fonts = charts.prepare_fonts(require_cjk=True)
    assert fonts.cjk and fonts.family == charts.CJK_FONT_FAMILY
    nanjing = _png_of_text("南京", fonts, tmp_path)
    beijing = _png_of_text("北京", fonts, tmp_path)
    assert ImageStat.Stat(nanjing).stddev[0] > 5, "something is drawn"
    differing_pixels = sum(ImageChops.difference(nanjing, beijing).histogram()[1:])
    assert differing_pixels > 100, "different characters draw differently: not the same empty box twice"


def test_without_a_cjk_font_charts_fall_back_to_english_or_fail_clearly(tmp_path):
    empty = {charts.CJK_FONT_ENV: str(tmp_path)}
    fonts = charts.prepare_fonts(environ=empty)
    assert not fonts.cjk and "fonts-noto-cjk" in fonts.note
    assert charts.city_label("Nanjing", "南京", fonts) == "Nanjing"
    with pytest.raises(charts.MissingFontError, match="apt-get install fonts-noto-cjk"):
        charts.prepare_fonts(require_cjk=True, environ=empty)
