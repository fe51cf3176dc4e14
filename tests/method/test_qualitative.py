"""The expert panel: a file is checked against the roster and the methodology, with typed errors;
a month without one follows the methodology's policy. Every score here is invented for the test."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import load_methodology
from cityindex_pipeline.method.panel import (
    DuplicateRaterError,
    IncompleteRatingError,
    MissingCityError,
    PanelError,
    PanelFileError,
    PanelMissingError,
    PanelSpec,
    ScoreNotANumberError,
    ScoreOutOfRangeError,
    TooFewRatersError,
    UnknownCityError,
    UnknownCriterionError,
    load_panel,
    panel_for_month,
    panel_path,
    read_panel_file,
    simulate_panel,
)

CITIES = ["beijing", "chengdu", "xian"]
SPEC = PanelSpec(criteria=("content_quality", "communication_strategy"), min_raters=2, missing_panel="block")
SEPTEMBER = Month(2024, 9)


def rows(cities=CITIES, raters=("r1", "r2"), criteria=SPEC.criteria, score="70"):
    return [f"{c},{r},{k},{score}" for c in cities for r in raters for k in criteria]


def write(tmp_path, lines, header="city_id,rater,criterion,score"):
    path = tmp_path / "2024-09.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path.read_bytes()


def test_a_complete_panel_loads_typed_and_labelled(tmp_path):
    panel = load_panel(write(tmp_path, rows()), CITIES, SPEC)
    assert panel.height == 3 * 2 * 2
    assert panel.schema["score"] == pl.Float64 and set(panel["source"]) == {"panel"}
    assert panel["carried_from"].null_count() == panel.height


@pytest.mark.parametrize(
    ("lines", "error", "message"),
    [
        (rows()[:-4], MissingCityError, r"no score for 1 city\(ies\), e\.g\. \['xian'\]"),
        (
            [*rows(), "shanghai,r1,content_quality,50"],
            UnknownCityError,
            r"line 14: unknown city_id .*'shanghai'",
        ),
        ([*rows(), "xian,r2,content_quality,55"], DuplicateRaterError, r"line 14: the rater already scored"),
        (
            [*rows()[:-1], "xian,r2,communication_strategy,100.5"],
            ScoreOutOfRangeError,
            r"line 13: score outside 0-100",
        ),
        ([*rows()[:-1], "xian,r2,communication_strategy,-1"], ScoreOutOfRangeError, "outside 0-100"),
        ([*rows()[:-1], "xian,r2,communication_strategy,high"], ScoreNotANumberError, "'high'"),
        ([*rows()[:-1], "xian,r2,communication_strategy,"], ScoreNotANumberError, "not a number"),
        ([*rows(), "xian,r2,cultural_distinctiveness,60"], UnknownCriterionError, "unknown criterion"),
        (rows()[:-1], IncompleteRatingError, r"rater 'r2' scored 'xian' on 1 of the 2 criteria"),
        (rows(raters=("r1",)), TooFewRatersError, r"'beijing' has 1 rater\(s\).*at least 2"),
    ],
)
def test_each_problem_has_its_own_error_naming_the_line(tmp_path, lines, error, message):
    with pytest.raises(error, match=message) as caught:
        load_panel(write(tmp_path, lines), CITIES, SPEC)
    assert isinstance(caught.value, PanelError)


def test_a_file_without_the_columns_is_refused(tmp_path):
    with pytest.raises(PanelFileError, match="missing column"):
        load_panel(write(tmp_path, ["beijing,r1,70"], header="city_id,rater,score"), CITIES, SPEC)


def previous_panel(month: Month, carried_from=None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "city_id": CITIES,
            "rater": ["r1"] * 3,
            "criterion": ["content_quality"] * 3,
            "score": [80.0, 60.0, 40.0],
            "source": ["panel"] * 3,
            "carried_from": [carried_from] * 3,
        },
        schema_overrides={"carried_from": pl.Date},
    ).with_columns(month=pl.lit(month.first_day), run_id=pl.lit("r"))


def test_a_missing_month_is_carried_forward_and_flagged(tmp_path):
    spec = PanelSpec(missing_panel="carry-forward")
    panel_file = read_panel_file(tmp_path, SEPTEMBER)
    previous = previous_panel(Month(2024, 8))
    panel = panel_for_month(
        SEPTEMBER, panel_file, CITIES, spec, previous=previous, simulated_source=False, seed=1
    )
    assert panel["score"].to_list() == [80.0, 60.0, 40.0]
    assert set(panel["carried_from"]) == {date(2024, 8, 1)}, "flagged with the month the scores were given"
    # carried twice: still the month of the scores, not the month before
    twice = panel_for_month(
        Month(2024, 10),
        panel_file,
        CITIES,
        spec,
        previous=previous_panel(SEPTEMBER, carried_from=date(2024, 8, 1)),
        simulated_source=False,
        seed=1,
    )
    assert set(twice["carried_from"]) == {date(2024, 8, 1)}


def test_carrying_forward_needs_a_previous_panel_for_every_city(tmp_path):
    spec = PanelSpec(missing_panel="carry-forward")
    panel_file = read_panel_file(tmp_path, SEPTEMBER)
    with pytest.raises(PanelMissingError, match="nothing to carry forward"):
        panel_for_month(
            SEPTEMBER, panel_file, CITIES, spec, previous=pl.DataFrame(), simulated_source=False, seed=1
        )
    with pytest.raises(PanelMissingError, match=r"cannot be carried forward for 1 city\(ies\).*'suzhou'"):
        panel_for_month(
            SEPTEMBER,
            panel_file,
            [*CITIES, "suzhou"],
            spec,
            previous=previous_panel(Month(2024, 8)),
            simulated_source=False,
            seed=1,
        )


def test_the_block_policy_stops_the_month(tmp_path):
    with pytest.raises(PanelMissingError, match="'block'"):
        panel_for_month(
            SEPTEMBER,
            read_panel_file(tmp_path, SEPTEMBER),
            CITIES,
            SPEC,
            previous=pl.DataFrame(),
            simulated_source=False,
            seed=1,
        )


def test_a_panel_file_wins_over_the_policy(tmp_path):
    path = panel_path(tmp_path, SEPTEMBER)
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(["city_id,rater,criterion,score", *rows()]) + "\n", encoding="utf-8")
    panel_file = read_panel_file(tmp_path, SEPTEMBER)
    panel = panel_for_month(
        SEPTEMBER, panel_file, CITIES, SPEC, previous=pl.DataFrame(), simulated_source=False, seed=1
    )
    assert set(panel["source"]) == {"panel"}


def test_the_simulated_source_simulates_a_missing_panel_labelled_as_such(tmp_path):
    panel = panel_for_month(
        SEPTEMBER,
        read_panel_file(tmp_path, SEPTEMBER),
        CITIES,
        SPEC,
        previous=pl.DataFrame(),
        simulated_source=True,
        seed=7,
    )
    assert set(panel["source"]) == {"simulated"} and set(panel["criterion"]) == set(SPEC.criteria)
    assert panel.equals(simulate_panel(CITIES, SEPTEMBER, 7, SPEC.criteria)), "deterministic for a seed"
    assert panel["score"].is_between(0, 100).all()


def test_the_methodology_names_the_policy():
    current = load_methodology()
    assert current.qualitative.missing_panel in ("carry-forward", "block", "simulate")
    assert load_methodology("0.2.0").qualitative.missing_panel == "simulate", "what 0.2.0 did"
