"""Roster and platforms month by month, from the methodology file's `coverage` section."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import polars as pl
import pytest
import yaml

from cityindex_pipeline import method
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import (
    DEFAULT_METHODOLOGY,
    Coverage,
    MethodologyError,
    PlatformCoverage,
    load_methodology,
    validate,
)
from cityindex_pipeline.method.uncertainty import UncertaintySpec, simulate_uncertainty
from cityindex_pipeline.reference.platforms import load_platform_reference

M = dataclasses.replace(load_methodology(), interaction_weights=None, platform_weight_inputs="reference")
"""The current method over frames that carry interaction counts (not their parts) and no month's
activity: interactions unweighted, platform weights from the reference figures."""
AUGUST, SEPTEMBER = Month(2024, 8), Month(2024, 9)
COVERAGE = Coverage(
    platforms={
        "facebook": PlatformCoverage(),
        "x": PlatformCoverage(comprehensive=False),  # monitored only
        "instagram": PlatformCoverage(),
        "youtube": PlatformCoverage(start=SEPTEMBER),  # enters in September
    },
    cities_from={"sanya": SEPTEMBER},
    cities_until={"oldtown": AUGUST},
)
COVERED = dataclasses.replace(M, coverage=COVERAGE)


def test_platforms_and_cities_per_month():
    assert COVERAGE.platforms_in(AUGUST) == ("facebook", "x", "instagram")
    assert COVERAGE.platforms_in(SEPTEMBER) == ("facebook", "x", "instagram", "youtube")
    assert COVERAGE.comprehensive_platforms_in(SEPTEMBER) == ("facebook", "instagram", "youtube")
    assert not COVERAGE.city_in("sanya", AUGUST) and COVERAGE.city_in("sanya", SEPTEMBER)
    assert COVERAGE.city_in("oldtown", AUGUST) and not COVERAGE.city_in("oldtown", SEPTEMBER)
    assert COVERAGE.city_in("beijing", Month(2023, 1))


def test_cover_keeps_the_roster_and_deactivates_uncovered_accounts():
    cities = pl.DataFrame({"city_id": ["beijing", "sanya", "oldtown"]})
    accounts = pl.DataFrame(
        {
            "city_id": ["beijing", "beijing", "sanya", "oldtown", "beijing"],
            "platform": ["facebook", "youtube", "facebook", "facebook", "instagram"],
            "started_on": [date(2020, 1, 1)] * 4 + [date(2024, 9, 15)],
        }
    )
    roster, active = method.cover(cities, accounts, AUGUST, COVERED)
    assert roster["city_id"].to_list() == ["beijing", "oldtown"]
    assert active["active"].to_list() == [True, False, False, True, False]
    roster, active = method.cover(cities, accounts, SEPTEMBER, COVERED)
    assert roster["city_id"].to_list() == ["beijing", "sanya"]
    assert active["active"].to_list() == [True, True, True, False, True]


def test_weights_are_shared_over_the_platforms_in_the_comprehensive_index():
    reference = load_platform_reference()
    weights = method.platform_weights(reference, COVERED, COVERAGE.comprehensive_platforms_in(SEPTEMBER))
    assert weights["platform"].to_list() == ["facebook", "instagram", "youtube"]
    assert weights["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    users = dict(reference.select("platform", "monthly_active_users_millions").iter_rows())
    fb = weights.filter(platform="facebook").row(0, named=True)
    assert fb["user_scale_share"] == pytest.approx(
        users["facebook"] / (users["facebook"] + users["instagram"] + users["youtube"])
    )
    with pytest.raises(ValueError, match="no platform enters"):
        method.platform_weights(reference, COVERED, ())


def test_a_monitored_platform_has_its_index_but_no_part_in_the_comprehensive_one():
    cities = pl.DataFrame({"city_id": ["a", "b"]})
    scores = pl.DataFrame(
        {
            "platform": ["facebook", "x", "facebook", "x"],
            "city_id": ["a", "a", "b", "b"],
            "score": [50.0, 100.0, 60.0, 0.0],
        }
    )
    weights = pl.DataFrame({"platform": ["facebook"], "weight": [1.0]})  # x is monitored: no weight row
    panel = pl.DataFrame({"city_id": ["a", "b"], "score": [50.0, 50.0]})
    previous = pl.DataFrame(schema={"city_id": pl.String, "score": pl.Float64, "rank": pl.Int32})
    out = {
        r["city_id"]: r
        for r in method.comprehensive_index(cities, scores, weights, panel, previous, COVERED).to_dicts()
    }
    assert out["a"]["quantitative_score"] == 50.0 and out["b"]["quantitative_score"] == 60.0
    assert out["a"]["platforms_present"] == 1
    assert (out["b"]["rank"], out["a"]["rank"]) == (1, 2), "x's 100 for a does not count"


def test_the_uncertainty_analysis_leaves_monitored_platforms_out():
    rng = np.random.default_rng(5)
    rows = [
        {
            "platform": platform,
            "city_id": f"c{c}",
            "dimension": d.name,
            "indicator": indicator,
            "indicator_weight": weight,
            "treated_value": float(rng.gamma(2.0, 1.0 + c)),
        }
        for platform in ("facebook", "x")
        for c in range(6)
        for d in M.dimensions
        for indicator, weight in d.indicators.items()
    ]
    weights = pl.DataFrame({"platform": ["facebook"], "weight": [1.0]})
    panel = pl.DataFrame({"city_id": [f"c{c}" for c in range(6)], "score": [50.0] * 6})
    cities = [f"c{c}" for c in range(6)]
    intervals, _ = simulate_uncertainty(
        pl.DataFrame(rows), weights, panel, cities, COVERED, UncertaintySpec(draws=10)
    )
    facebook_only = pl.DataFrame(rows).filter(platform="facebook")
    expected, _ = simulate_uncertainty(
        facebook_only, weights, panel, cities, COVERED, UncertaintySpec(draws=10)
    )
    assert intervals.equals(expected)


def test_the_coverage_section_is_read_from_the_file(tmp_path):
    raw = yaml.safe_load(DEFAULT_METHODOLOGY.read_text(encoding="utf-8"))
    raw["coverage"] = {
        "platforms": {
            "facebook": {"comprehensive": True},
            "x": {"from": "2025-01", "comprehensive": False},
        },
        "cities_from": {"sanya": "2025-03"},
    }
    path = tmp_path / "methodology.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    loaded = load_methodology(path=path)
    assert loaded.coverage.platforms_in(Month(2024, 12)) == ("facebook",)
    assert loaded.coverage.platforms_in(Month(2025, 1)) == ("facebook", "x")
    assert loaded.coverage.comprehensive_platforms_in(Month(2025, 1)) == ("facebook",)
    assert loaded.coverage.cities_from == {"sanya": Month(2025, 3)}


def test_the_coverage_must_be_of_platforms_the_pipeline_pulls_and_weigh_one():
    with pytest.raises(MethodologyError, match="tiktok"):
        validate(dataclasses.replace(M, coverage=Coverage(platforms={"tiktok": PlatformCoverage()})))
    with pytest.raises(MethodologyError, match="at least one platform"):
        validate(
            dataclasses.replace(M, coverage=Coverage(platforms={"x": PlatformCoverage(comprehensive=False)}))
        )


def test_before_0_4_0_every_platform_and_city_was_covered_always():
    old = load_methodology("0.2.0").coverage
    assert old.platforms_in(Month(2023, 1)) == ("facebook", "x", "instagram", "youtube")
    assert old.comprehensive_platforms_in(Month(2023, 1)) == ("facebook", "x", "instagram", "youtube")
    assert old.city_in("anything", Month(2023, 1))
