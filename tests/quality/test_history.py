"""The history rule: the first month of coverage reads no previous month; a later month needs its
previous month computed; a month before the first is refused."""

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.quality.gates import BY_KEY, Severity
from cityindex_pipeline.quality.history import (
    READ_BY_ASSET,
    REQUIRED_PREVIOUS_TABLES,
    previous_month_computed,
    refusal,
)

FIRST, AUGUST, SEPTEMBER = Month(2024, 7), Month(2024, 8), Month(2024, 9)
COMPUTED = {"clean.account_metrics": 412, "idx.comprehensive_index": 133}


def test_the_first_month_passes_whatever_the_warehouse_holds_of_the_month_before():
    for previous_rows in ({}, COMPUTED):
        finding = previous_month_computed(FIRST, FIRST, previous_rows)
        assert finding.passed and "first month of coverage" in finding.detail


def test_a_later_month_passes_with_its_previous_month_computed():
    finding = previous_month_computed(AUGUST, FIRST, COMPUTED)
    assert finding.passed
    assert "2024-07: 412 rows of clean.account_metrics, 133 rows of idx.comprehensive_index" in finding.detail


def test_a_later_month_without_its_previous_month_is_refused_with_what_to_do():
    for missing in REQUIRED_PREVIOUS_TABLES:
        finding = previous_month_computed(AUGUST, FIRST, {**COMPUTED, missing: 0})
        assert not finding.passed and finding.failed_rows == 1
        assert finding.extra["previous_month_missing"] == [missing]
    said = refusal(previous_month_computed(AUGUST, FIRST, {}))
    assert said.startswith("2024-08 needs 2024-07 computed first")
    assert "`cityindex materialize --month 2024-07`" in said
    assert "a backfill from the first month (2024-07)" in said
    assert "set CITYINDEX_FIRST_MONTH=2024-08 if 2024-08 is your first month of data" in said


def test_a_month_before_the_first_month_is_refused_with_how_to_extend_history_backwards():
    finding = previous_month_computed(FIRST, SEPTEMBER, COMPUTED)
    assert not finding.passed
    said = refusal(finding)
    assert "2024-07 is before the first month of coverage, 2024-09" in said
    assert "set CITYINDEX_FIRST_MONTH=2024-07 (or earlier)" in said
    assert "later months then publish new versions" in said


def test_the_rule_is_a_blocking_gate_on_the_account_metrics():
    gate = BY_KEY["clean_account_metrics:previous_month_computed"]
    assert gate.severity is Severity.ERROR


def test_each_assets_check_asks_only_for_what_its_asset_reads_of_the_month_before():
    # in a backfill, August's account metrics may be computed while July's index is still running
    metrics_only = {"clean.account_metrics": 412, "idx.comprehensive_index": 0}
    assert previous_month_computed(AUGUST, FIRST, metrics_only, READ_BY_ASSET["clean_account_metrics"]).passed
    index_check = previous_month_computed(AUGUST, FIRST, metrics_only, READ_BY_ASSET["comprehensive_index"])
    assert not index_check.passed and index_check.extra["previous_month_missing"] == [
        "idx.comprehensive_index"
    ]
    assert BY_KEY["comprehensive_index:previous_month_computed"].severity is Severity.ERROR
