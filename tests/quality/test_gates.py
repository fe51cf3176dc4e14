"""The publication gate: which results let a month be published, and how a result reaches Dagster."""

from __future__ import annotations

import dagster as dg
import pytest

from checks.results import check_result
from cityindex_pipeline.defs.resources import PublishOptions
from cityindex_pipeline.quality.findings import Finding
from cityindex_pipeline.quality.gates import GATES, RELEASE_CHECKS, CheckOutcome, Severity, decide, gate

ALL_PASSED = [CheckOutcome(g.key, passed=True) for g in GATES]


def replaced(outcomes: list[CheckOutcome], key: str, **changes) -> list[CheckOutcome]:
    return [CheckOutcome(o.key, **{"passed": o.passed, **changes}) if o.key == key else o for o in outcomes]


def test_every_check_passed_publishes():
    verdict = decide(ALL_PASSED)
    assert verdict.publishable and not verdict.failed and not verdict.warnings


def test_a_failed_error_check_blocks_and_the_message_says_what_to_do():
    outcomes = replaced(
        ALL_PASSED, "raw_x:accounts_covered", passed=False, detail="fix: deliver ChengdeToday"
    )
    verdict = decide(outcomes)
    assert not verdict.publishable and verdict.failed == ["raw_x:accounts_covered"]
    assert "deliver ChengdeToday" in verdict.message() and "--override-errors" in verdict.message()


def test_a_failed_warn_check_is_recorded_but_does_not_block():
    verdict = decide(replaced(ALL_PASSED, "raw_x:document_counts_plausible", passed=False))
    assert verdict.publishable and verdict.warnings == ["raw_x:document_counts_plausible"]


def test_an_overridden_error_check_publishes_and_is_listed():
    verdict = decide(replaced(ALL_PASSED, "clean_posts:posts_unique", passed=False, overridden=True))
    assert verdict.publishable and verdict.overridden == ["clean_posts:posts_unique"]


def test_error_checks_missing_from_the_run_block_publication():
    verdict = decide([o for o in ALL_PASSED if not o.key.startswith("clean_posts:")])
    assert not verdict.publishable
    assert "clean_posts:posts_unique" in verdict.missing
    assert "no result on the month's current data" in verdict.message()


def test_the_catalogue_has_unique_keys_and_a_warn_check_per_platform():
    assert len({g.key for g in GATES}) == len(GATES)
    warns = [g.key for g in GATES if g.severity is Severity.WARN]
    assert warns == [f"raw_{p}:document_counts_plausible" for p in ("facebook", "x", "instagram", "youtube")]


FAILED = Finding(False, 2, [{"post_id": "1"}], "2 duplicated", fix="re-run clean_posts", extra={"n": [1]})


def test_a_failed_error_check_result_blocks_with_its_sample_and_fix():
    result = check_result("clean_posts", "posts_unique", FAILED, PublishOptions())
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["failed_rows"].value == 2 and result.metadata["fix"].value == "re-run clean_posts"
    assert result.metadata["sample"].value == [{"post_id": "1"}]
    assert "overridden" not in result.metadata


def test_an_override_turns_a_failed_error_into_a_recorded_warning():
    result = check_result(
        "clean_posts", "posts_unique", FAILED, PublishOptions(override_errors="editor approved")
    )
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["overridden"].value is True
    assert result.metadata["override_reason"].value == "editor approved"
    assert result.metadata["declared_severity"].value == "ERROR"


def test_an_override_does_not_touch_passing_or_warn_checks():
    passed = check_result(
        "clean_posts", "posts_unique", Finding(True, 0), PublishOptions(override_errors="x")
    )
    assert passed.passed and "overridden" not in passed.metadata
    warn = check_result("raw_x", "document_counts_plausible", FAILED, PublishOptions(override_errors="x"))
    assert warn.severity == dg.AssetCheckSeverity.WARN and "overridden" not in warn.metadata


def test_unknown_checks_are_not_in_the_catalogue():
    with pytest.raises(KeyError):
        gate("clean_posts", "no_such_check")


def test_the_dagster_checks_are_exactly_the_catalogue_and_all_block():
    from checks import all_checks

    specs = [spec for definition in all_checks for spec in definition.check_specs]
    declared = sorted(g.key for g in (*GATES, *RELEASE_CHECKS))
    assert sorted(f"{s.asset_key.to_user_string()}:{s.name}" for s in specs) == declared
    assert all(spec.blocking for spec in specs)
    assert not {g.key for g in GATES} & {g.key for g in RELEASE_CHECKS}
    # the publication cannot wait for a check of what it writes, or of what follows it
    assert {g.asset for g in RELEASE_CHECKS} == {"published_index", "monthly_report"}
    assert not {g.asset for g in GATES} & {"published_index", "monthly_report"}


def test_a_stale_result_counts_as_missing_even_when_it_passed():
    stale = replaced(ALL_PASSED, "clean_posts:posts_unique", current=False)
    verdict = decide(stale)
    assert not verdict.publishable and verdict.missing == ["clean_posts:posts_unique"]
