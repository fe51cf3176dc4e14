"""The settings: every CITYINDEX_* variable read and checked once, the renamed pair, and the record."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import ApiSettings, Settings, settings_from_env
from cityindex_pipeline.core.variables import Secret, schedule_day_from_env

PASSWORD = "s3cret-pw"
URL = f"postgresql+psycopg2://dagster:{PASSWORD}@127.0.0.1:5432/dagster"
RENAMED = [
    ("CITYINDEX_SETTLING_DAYS", "CITYINDEX_PUBLICATION_DELAY_DAYS", "settling_days"),
    ("CITYINDEX_SETTLING_DAY", "CITYINDEX_SCHEDULE_DAY", "schedule_day"),
]


def read(environ: dict[str, str]) -> Settings:
    """The settings of `environ`, failing on any warning (a new name must not warn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return settings_from_env(environ)


def test_the_new_names_are_read_without_a_warning(tmp_path):
    settings = read(
        {
            "CITYINDEX_HOME": str(tmp_path),
            "CITYINDEX_PUBLICATION_DELAY_DAYS": "3",
            "CITYINDEX_SCHEDULE_DAY": "12",
        }
    )
    assert (settings.settling_days, settings.schedule_day, settings.deprecated_names) == (3, 12, ())
    defaults = read({"CITYINDEX_HOME": str(tmp_path)})
    assert (defaults.settling_days, defaults.schedule_day) == (5, 6)
    with pytest.raises(ValueError, match="CITYINDEX_SCHEDULE_DAY 5 would run the monthly schedule before"):
        read({"CITYINDEX_HOME": str(tmp_path), "CITYINDEX_SCHEDULE_DAY": "5"})
    shorter = read(
        {
            "CITYINDEX_HOME": str(tmp_path),
            "CITYINDEX_SCHEDULE_DAY": "5",
            "CITYINDEX_PUBLICATION_DELAY_DAYS": "4",
        }
    )
    assert (shorter.settling_days, shorter.schedule_day) == (4, 5)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CITYINDEX_SCHEDULE_DAY", "0", "CITYINDEX_SCHEDULE_DAY must be a day of the month 1-28; got 0"),
        (
            "CITYINDEX_SCHEDULE_DAY",
            "fifth",
            "CITYINDEX_SCHEDULE_DAY must be a day of the month 1-28; got 'fifth'",
        ),
        (
            "CITYINDEX_PUBLICATION_DELAY_DAYS",
            "x",
            "CITYINDEX_PUBLICATION_DELAY_DAYS must be an integer; got 'x'",
        ),
        (
            "CITYINDEX_PUBLICATION_DELAY_DAYS",
            "-1",
            "CITYINDEX_PUBLICATION_DELAY_DAYS must be 0-27 days (a month settles within the next month, by its day 28); got -1",
        ),
        (
            "CITYINDEX_PUBLICATION_DELAY_DAYS",
            "28",
            "CITYINDEX_PUBLICATION_DELAY_DAYS must be 0-27 days (a month settles within the next month, by its day 28); got 28",
        ),
        ("CITYINDEX_SETTLING_DAYS", "-2", "CITYINDEX_SETTLING_DAYS must be 0-27 days"),
        ("CITYINDEX_SEED", "seed", "CITYINDEX_SEED must be an integer; got 'seed'"),
        ("CITYINDEX_FIRST_MONTH", "2024-7", "CITYINDEX_FIRST_MONTH must be a month as YYYY-MM"),
        ("CITYINDEX_FIRST_MONTH", "2024-13", "CITYINDEX_FIRST_MONTH must be a month as YYYY-MM"),
        ("CITYINDEX_SOURCE", "ftp", "CITYINDEX_SOURCE must be one of simulated, files, api; got 'ftp'"),
        ("CITYINDEX_DAGSTER_POSTGRES_URL", "postgresql://u:p@h/d", "must start with postgresql+psycopg2://"),
        (
            "CITYINDEX_API_MAX_PAGES_PER_ACCOUNT",
            "0",
            "CITYINDEX_API_MAX_PAGES_PER_ACCOUNT must be a whole number",
        ),
    ],
)
def test_a_wrong_value_names_the_variable_it_was_read_from(variable, value, message):
    with pytest.raises(ValueError, match=re.escape(message)), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        settings_from_env({variable: value})


@pytest.mark.parametrize(("old", "new", "attribute"), RENAMED)
def test_an_old_name_still_works_with_a_deprecation_warning_and_a_log_line(old, new, attribute, caplog):
    with caplog.at_level(logging.WARNING, logger="cityindex.settings"), pytest.warns(FutureWarning) as caught:
        settings = settings_from_env({old: "7"})
    assert getattr(settings, attribute) == 7
    assert settings.deprecated_names == (old,)
    (warning,) = [w for w in caught if old in str(w.message)]
    assert new in str(warning.message) and "deprecated" in str(warning.message)
    assert any(old in r.getMessage() and new in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("old", "new", "attribute"), RENAMED)
def test_an_old_and_a_new_name_set_differently_is_an_error_naming_both(old, new, attribute):
    with (
        pytest.raises(ValueError, match=f"{old} and {new} are both set") as raised,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", FutureWarning)
        settings_from_env({old: "7", new: "8"})
    assert f"unset {old}" in str(raised.value)
    with pytest.warns(FutureWarning, match=old):
        same = settings_from_env({old: "7", new: "7"})
    assert getattr(same, attribute) == 7


def test_the_old_schedule_day_reader_checks_as_before():
    with pytest.warns(FutureWarning, match="CITYINDEX_SETTLING_DAY"):
        assert schedule_day_from_env({"CITYINDEX_SETTLING_DAY": " 9 "}) == 9


def test_the_postgres_url_is_a_secret_never_shown(tmp_path):
    settings = read({"CITYINDEX_HOME": str(tmp_path), "CITYINDEX_DAGSTER_POSTGRES_URL": URL})
    assert settings.dagster_postgres_url == Secret(URL)
    assert settings.dagster_postgres_url.reveal() == URL
    for shown in (repr(settings), str(settings), str(settings.record())):
        assert PASSWORD not in shown
    assert settings.record()["CITYINDEX_DAGSTER_POSTGRES_URL"] == "REDACTED"


def test_the_record_names_every_setting_by_its_variable_and_the_deprecated_names_used(tmp_path):
    environ = {
        "CITYINDEX_HOME": str(tmp_path),
        "CITYINDEX_SOURCE": "files",
        "CITYINDEX_SEED": "7",
        "CITYINDEX_SETTLING_DAYS": "2",
        "CITYINDEX_SCHEDULE_DAY": "9",
        "CITYINDEX_FIRST_MONTH": "2024-08",
        "CITYINDEX_METHODOLOGY_VERSION": "0.1.0",
        "CITYINDEX_CJK_FONT_DIR": "/fonts",
        "CITYINDEX_FILES_URL": "http://127.0.0.1:3001/",
        "CITYINDEX_X_BASE_URL": "http://127.0.0.1:9",
        "CITYINDEX_API_MAX_BYTES_PER_ACCOUNT": "4000",
        "X_BEARER_TOKEN": "token-never-a-setting",
    }
    with pytest.warns(FutureWarning):
        record = settings_from_env(environ).record()
    assert record == {
        "CITYINDEX_HOME": str(Path(tmp_path).resolve()),
        "CITYINDEX_SOURCE": "files",
        "CITYINDEX_SEED": 7,
        "CITYINDEX_PUBLICATION_DELAY_DAYS": 2,
        "CITYINDEX_SCHEDULE_DAY": 9,
        "CITYINDEX_FIRST_MONTH": "2024-08",
        "CITYINDEX_METHODOLOGY_VERSION": "0.1.0",
        "CITYINDEX_CJK_FONT_DIR": "/fonts",
        "CITYINDEX_FILES_URL": "http://127.0.0.1:3001",
        "CITYINDEX_DAGSTER_POSTGRES_URL": None,
        "CITYINDEX_GRAPH_API_VERSION": "v21.0",
        "CITYINDEX_FACEBOOK_BASE_URL": "https://graph.facebook.com",
        "CITYINDEX_INSTAGRAM_BASE_URL": "https://graph.facebook.com",
        "CITYINDEX_X_BASE_URL": "http://127.0.0.1:9",
        "CITYINDEX_YOUTUBE_BASE_URL": "https://www.googleapis.com",
        "CITYINDEX_API_MAX_PAGES_PER_ACCOUNT": 500,
        "CITYINDEX_API_MAX_BYTES_PER_ACCOUNT": 4000,
        "deprecated_names_used": {"CITYINDEX_SETTLING_DAYS": "CITYINDEX_PUBLICATION_DELAY_DAYS"},
    }


def test_settings_are_frozen_and_default_as_before(tmp_path):
    settings = Settings(home=tmp_path, source="simulated", seed=1)
    assert (settings.settling_days, settings.schedule_day, settings.api) == (5, 6, ApiSettings())
    assert settings.first_month == Month(2024, 7), "the first month of the shipped demo"
    with pytest.raises(AttributeError):
        settings.seed = 2  # type: ignore[misc]
