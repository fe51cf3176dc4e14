from datetime import UTC, datetime

import pytest

from cityindex_pipeline.core.months import Month, backfill_title, previous_month_read


def test_month_window_is_beijing_time():
    september = Month.parse("2024-09")
    assert september.start_utc == datetime(2024, 8, 31, 16, tzinfo=UTC)
    assert september.end_utc == datetime(2024, 9, 30, 16, tzinfo=UTC)
    assert september.contains(datetime(2024, 8, 31, 17, 30, tzinfo=UTC)), "01:30 on 1 September in Beijing"
    assert not september.contains(datetime(2024, 9, 30, 16, 0, tzinfo=UTC)), "00:00 on 1 October in Beijing"


def test_partition_keys_and_arithmetic_across_a_year_boundary():
    assert Month.from_partition_key("2024-01-01") == Month(2024, 1)
    assert Month(2024, 1).previous() == Month(2023, 12)
    assert Month(2023, 12).next() == Month(2024, 1)
    assert Month(2024, 9).shift(-21) == Month(2022, 12)
    assert Month(2024, 9).months_since(Month(2023, 1)) == 20
    assert str(Month(2024, 2)) == "2024-02" and Month(2024, 2).days == 29


def test_a_range_holds_every_month_from_first_to_last_across_a_year_boundary():
    assert Month.range(Month(2024, 11), Month(2025, 2)) == [
        Month(2024, 11), Month(2024, 12), Month(2025, 1), Month(2025, 2),
    ]  # fmt: skip
    assert Month.range(Month(2024, 9), Month(2024, 9)) == [Month(2024, 9)]
    assert Month.range(Month(2024, 9), Month(2024, 8)) == [], "the last month before the first: none"


@pytest.mark.parametrize("text", ["2024-13", "24-09", "2024/09", "", "2024-09-02"])
def test_bad_months_are_rejected_clearly(text):
    with pytest.raises(ValueError, match="month"):
        Month.parse(text)


def test_the_first_month_of_coverage_reads_no_previous_month():
    first = Month(2024, 8)
    assert previous_month_read(Month(2024, 9), first) == Month(2024, 8)
    assert previous_month_read(Month(2025, 1), first) == Month(2024, 12)
    assert previous_month_read(first, first) is None, "even if the month before it is in the warehouse"
    assert previous_month_read(Month(2024, 7), first) is None, "before the first month: refused, reads none"


def test_a_backfill_title_names_its_months_within_dagsters_limit():
    assert (
        backfill_title([Month(2024, 9), Month(2024, 7), Month(2024, 8)])
        == "cityindex 2024-07..2024-09 (3 months)"
    )
    assert backfill_title([Month(2024, 9)]) == "cityindex 2024-09 (1 month)"
    assert backfill_title([Month(2024, 7), Month(2024, 9)]) == "cityindex 2024-07, 2024-09 (2 months)"
    scattered = Month.range(Month(2020, 1), Month(2025, 12))[::2]
    assert backfill_title(scattered) == "cityindex 2020-01, ... 2025-11 (36 months)"
    with pytest.raises(ValueError, match="at least one month"):
        backfill_title([])
