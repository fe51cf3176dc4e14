"""The expectation engine: Great Expectations in a process of its own gives the findings the run's own
process gives, is started by a run that validates and by no other, and, gone, is replaced by a
validation in process."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dagster as dg
import polars as pl
import pytest

from cityindex_pipeline.cleaning import COUNT_COLUMNS
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.quality import engine, suites
from cityindex_pipeline.quality.suites import Expectation
from tests.support.runs import in_memory_instance, make_settings, materialize

SEPTEMBER = Month(2024, 9)


@pytest.fixture(autouse=True)
def no_engine_before_or_after():
    engine.stop()
    yield
    engine.stop()


def defective_posts() -> pl.DataFrame:
    """Posts failing every expectation of the suite in some row, beside good rows."""
    n = 6
    return pl.DataFrame(
        {
            "platform": ["x"] * n,
            "city_id": ["a", None, "a", "a", "a", "a"],
            "account_handle": ["A"] * n,
            "platform_account_id": ["1"] * n,
            "post_id": ["p0", "p1", "p0", "p3", "p4", "p5"],
            "published_at_utc": [datetime(2024, 9, 10, tzinfo=UTC)] * 5 + [datetime(2024, 10, 1, tzinfo=UTC)],
            "content_type": ["photo", "photo", "photo", "reel", "photo", "photo"],
            **{column: [1, 1, 1, 1, -3, 1] for column in COUNT_COLUMNS},
            "interactions": [1] * n,
        }
    )


def test_the_engine_finds_what_the_run_s_own_process_finds():
    frame, suite = defective_posts(), suites.posts_suite(SEPTEMBER)
    engine.start()
    assert engine.running()
    by_engine = engine.validate(frame, suite, "clean_posts")
    in_process = suites.validate(frame, suite, "clean_posts")
    assert by_engine == in_process
    assert not any(finding.passed for finding in by_engine.values())
    assert by_engine["counts_not_negative"].failed_rows == 1
    assert engine.peak_rss_mib() > 0  # the child's own memory, reported apart from this process's


def test_an_error_in_the_engine_is_raised_here_as_in_process():
    engine.start()
    suite = [Expectation("posts_unique", "ExpectNoSuchThing", {"column": "post_id"})]
    with pytest.raises(AttributeError, match="ExpectNoSuchThing"):
        engine.validate(defective_posts(), suite, "clean_posts")
    with pytest.raises(AttributeError, match="ExpectNoSuchThing"):
        suites.validate(defective_posts(), suite, "clean_posts")
    assert engine.running()  # one request failing does not end the engine


def test_an_engine_gone_is_replaced_by_a_validation_in_process(caplog):
    engine.start()
    engine._ENGINE.process.kill()
    engine._ENGINE.process.wait()
    frame, suite = defective_posts(), suites.posts_suite(SEPTEMBER)
    with caplog.at_level(logging.WARNING, logger="cityindex.quality"):
        findings = engine.validate(frame, suite, "clean_posts")
    assert findings == suites.validate(frame, suite, "clean_posts")
    assert not engine.running()


def test_a_run_that_validates_nothing_starts_no_engine_and_one_that_validates_does(tmp_path):
    settings, instance = make_settings(tmp_path), in_memory_instance()
    raw = dg.AssetSelection.assets("account_registry", "platform_reference", *(f"raw_{p}" for p in PLATFORMS))
    assert materialize(settings, SEPTEMBER, raw, instance).success
    assert not engine.running()
    clean = raw | dg.AssetSelection.assets("clean_posts")
    result = materialize(settings, SEPTEMBER, clean, instance)
    assert result.success
    assert engine.running()
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["posts_unique"].passed


def test_the_resource_asked_to_validate_in_process_starts_no_engine():
    from cityindex_pipeline.defs.resources import ExpectationsResource

    frame, suite = defective_posts(), suites.posts_suite(SEPTEMBER)
    resource = ExpectationsResource(in_process=True)
    resource.setup_for_execution(dg.build_init_resource_context())
    assert resource.validate(frame, suite, "clean_posts") == suites.validate(frame, suite, "clean_posts")
    assert not engine.running()
