"""The `CITYINDEX_*` environment variables, one reader each: its name, its default, its checks and the
words of its errors, defined once.

`settings.py` gathers them into one `Settings`; the few library functions that default to the
environment when called alone (`load_methodology()`, `ApiSource()`, the chart fonts, the instance's
`dagster.yaml`) call the reader of their variable, so no variable is parsed in two places. Two names were
renamed (the confusable pair `CITYINDEX_SETTLING_DAY`/`CITYINDEX_SETTLING_DAYS`): the old names still
work, with a deprecation message, and an old and a new name set to different values is an error.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
import warnings
from collections.abc import Callable, Mapping
from typing import TypeVar

from cityindex_pipeline.core.months import Month

LOGGER = logging.getLogger("cityindex.settings")

HOME_VARIABLE = "CITYINDEX_HOME"
SOURCE_VARIABLE = "CITYINDEX_SOURCE"
SEED_VARIABLE = "CITYINDEX_SEED"
PUBLICATION_DELAY_VARIABLE = "CITYINDEX_PUBLICATION_DELAY_DAYS"
SCHEDULE_DAY_VARIABLE = "CITYINDEX_SCHEDULE_DAY"
METHODOLOGY_VERSION_VARIABLE = "CITYINDEX_METHODOLOGY_VERSION"
CJK_FONT_DIR_VARIABLE = "CITYINDEX_CJK_FONT_DIR"
DAGSTER_POSTGRES_URL_VARIABLE = "CITYINDEX_DAGSTER_POSTGRES_URL"
GRAPH_API_VERSION_VARIABLE = "CITYINDEX_GRAPH_API_VERSION"
FIRST_MONTH_VARIABLE = "CITYINDEX_FIRST_MONTH"
FILES_URL_VARIABLE = "CITYINDEX_FILES_URL"
BASE_URL_VARIABLES = {
    "facebook": "CITYINDEX_FACEBOOK_BASE_URL",
    "instagram": "CITYINDEX_INSTAGRAM_BASE_URL",
    "x": "CITYINDEX_X_BASE_URL",
    "youtube": "CITYINDEX_YOUTUBE_BASE_URL",
}
MAX_PAGES_VARIABLE = "CITYINDEX_API_MAX_PAGES_PER_ACCOUNT"
MAX_BYTES_VARIABLE = "CITYINDEX_API_MAX_BYTES_PER_ACCOUNT"

RENAMED = {
    "CITYINDEX_SETTLING_DAYS": PUBLICATION_DELAY_VARIABLE,
    "CITYINDEX_SETTLING_DAY": SCHEDULE_DAY_VARIABLE,
}
"""Old name -> new name. `SETTLING_DAY` (the schedule's day of the next month) and `SETTLING_DAYS` (the
days a closed month waits before it may be published) differed by one letter."""
OLD_NAMES = {new: old for old, new in RENAMED.items()}

SOURCES = ("simulated", "files", "api")
DEFAULT_SEED = 20240901
DEFAULT_PUBLICATION_DELAY_DAYS = 5
MAX_PUBLICATION_DELAY_DAYS = 27
"""A month becomes a partition at 00:00 Beijing time on day 1 + the delay of the next month, and a
monthly partition's start day is 1-28 in every month, so the delay is at most 27 days."""
DEFAULT_SCHEDULE_DAY = DEFAULT_PUBLICATION_DELAY_DAYS + 1
"""The 6th, at 06:00 Beijing time: six hours after a month is publishable with the default delay
(5 days after it closed, at 00:00 on the 1st). Unset, the schedule day follows the delay."""
DEFAULT_GRAPH_API_VERSION = "v21.0"
DEFAULT_FIRST_MONTH = Month(2024, 7)
"""The first month of the shipped demo; set `CITYINDEX_FIRST_MONTH` to your first month of data."""
DEFAULT_BASE_URLS = {
    "facebook": "https://graph.facebook.com",
    "instagram": "https://graph.facebook.com",
    "x": "https://api.x.com",
    "youtube": "https://www.googleapis.com",
}
DEFAULT_MAX_PAGES = 500
DEFAULT_MAX_BYTES = 100_000_000
"""A city account's month is a handful of pages (posting 100 times a month takes 5 posts pages and 2
insights lookups on Facebook, well under a MB): the caps stop a cursor that never ends."""

REDACTED = "REDACTED"

T = TypeVar("T")


class Secret:
    """A value that never shows: repr, str and the settings record say REDACTED; only `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def environment(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """The mapping to read: the one given, else this process's environment."""
    return os.environ if environ is None else environ


def renamed_names_used(env: Mapping[str, str]) -> tuple[str, ...]:
    """The old names set in `env`, in `RENAMED` order."""
    return tuple(old for old in RENAMED if old in env)


def _renamed(env: Mapping[str, str], new: str, parse: Callable[[str, str | None], T]) -> T:
    """The value of `new`, or of its old name when only that is set (with a deprecation message).

    `parse(variable, text)` reads one variable's text (None: unset) and names that variable in its
    errors. Both set: the new name's value, unless the old one is set to a different value: an error
    naming both.
    """
    old = OLD_NAMES[new]
    if old not in env:
        return parse(new, env.get(new))
    message = f"{old} is deprecated: rename it {new} (same meaning; the old name still works for now)"
    warnings.warn(message, FutureWarning, stacklevel=4)
    LOGGER.warning(message)
    if new not in env:
        return parse(old, env[old])
    value = parse(new, env[new])
    if env[old].strip() and parse(old, env[old]) != value:
        raise ValueError(
            f"{old} and {new} are both set, to {env[old]!r} and {env[new]!r}: {old} is the old name of "
            f"{new}; unset {old}"
        )
    return value


def source_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = environment(environ)
    source = env.get(SOURCE_VARIABLE, "simulated").strip().lower() or "simulated"
    if source not in SOURCES:
        raise ValueError(f"{SOURCE_VARIABLE} must be one of {', '.join(SOURCES)}; got {source!r}")
    return source


def seed_from_env(environ: Mapping[str, str] | None = None) -> int:
    text = environment(environ).get(SEED_VARIABLE, str(DEFAULT_SEED))
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE} must be an integer; got {text!r}") from None


def _delay_days(variable: str, text: str | None) -> int:
    text = str(DEFAULT_PUBLICATION_DELAY_DAYS) if text is None else text
    try:
        days = int(text)
    except ValueError:
        raise ValueError(f"{variable} must be an integer; got {text!r}") from None
    if not 0 <= days <= MAX_PUBLICATION_DELAY_DAYS:
        raise ValueError(
            f"{variable} must be 0-{MAX_PUBLICATION_DELAY_DAYS} days (a month settles within the next "
            f"month, by its day 28); got {days}"
        )
    return days


def publication_delay_days_from_env(environ: Mapping[str, str] | None = None) -> int:
    """`CITYINDEX_PUBLICATION_DELAY_DAYS` (was `CITYINDEX_SETTLING_DAYS`; 0 or more, default 5): days
    after a month closes (Beijing time) before it may be published."""
    return _renamed(environment(environ), PUBLICATION_DELAY_VARIABLE, _delay_days)


def _schedule_day(variable: str, text: str | None, default: int = DEFAULT_SCHEDULE_DAY) -> int:
    text = (text or "").strip()
    if not text:
        return default
    try:
        day = int(text)
    except ValueError:
        raise ValueError(f"{variable} must be a day of the month 1-28; got {text!r}") from None
    if not 1 <= day <= 28:
        raise ValueError(f"{variable} must be a day of the month 1-28; got {day}")
    return day


def schedule_day_from_env(environ: Mapping[str, str] | None = None, delay_days: int | None = None) -> int:
    """`CITYINDEX_SCHEDULE_DAY` (was `CITYINDEX_SETTLING_DAY`; 1-28): the day of the next month the
    monthly schedule runs on. Platforms keep revising counts for a few days after a month closes;
    waiting lets them settle. Unset, the first day on which a month may be published: 1 +
    `delay_days` (6 with the default delay of 5 days)."""
    default = DEFAULT_SCHEDULE_DAY if delay_days is None else delay_days + 1

    def parse(variable: str, text: str | None) -> int:
        return _schedule_day(variable, text, default)

    return _renamed(environment(environ), SCHEDULE_DAY_VARIABLE, parse)


def check_schedule_after_delay(schedule_day: int, delay_days: int) -> None:
    """The schedule must run a month once it may be published, or every scheduled run is refused by
    `month_has_settled`. A month closes at 00:00 Beijing time on the 1st and is publishable
    `delay_days` later, at 00:00 on day 1 + `delay_days`; the schedule runs during day
    `schedule_day` (06:00), so it needs `schedule_day` >= 1 + `delay_days`, whatever its hour."""
    earliest = delay_days + 1
    if earliest <= schedule_day <= 28:
        return
    if earliest > 28:
        raise ValueError(
            f"{PUBLICATION_DELAY_VARIABLE} {delay_days} leaves no day of the next month (1-28) for the "
            f"monthly schedule: a month would be publishable only from day {earliest}; set it to 27 or less"
        )
    raise ValueError(
        f"{SCHEDULE_DAY_VARIABLE} {schedule_day} would run the monthly schedule before the month it "
        f"runs may be published: with {PUBLICATION_DELAY_VARIABLE} {delay_days} a month is publishable "
        f"from 00:00 Beijing time on day {earliest} of the next month, and month_has_settled refuses "
        f"it before then; set {SCHEDULE_DAY_VARIABLE} to {earliest} or later (or leave it unset), or "
        f"{PUBLICATION_DELAY_VARIABLE} to {schedule_day - 1} or less"
    )


def methodology_version_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """`CITYINDEX_METHODOLOGY_VERSION`: the archived methodology a run computes with; None: the current
    one. Whether the version exists is the methodology's to say (`method/config.py`)."""
    return environment(environ).get(METHODOLOGY_VERSION_VARIABLE, "").strip() or None


def first_month_from_env(environ: Mapping[str, str] | None = None) -> Month:
    """`CITYINDEX_FIRST_MONTH` (YYYY-MM, default 2024-07): the first month of coverage. It reads no
    previous month; every later month requires its previous month computed, so that a month's numbers
    never depend on which months happened to be computed before it."""
    text = environment(environ).get(FIRST_MONTH_VARIABLE, "").strip()
    if not text:
        return DEFAULT_FIRST_MONTH
    try:
        return Month.parse(text)
    except ValueError:
        raise ValueError(
            f"{FIRST_MONTH_VARIABLE} must be a month as YYYY-MM (your first month of data); got {text[:40]!r}"
        ) from None


def files_url_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """`CITYINDEX_FILES_URL`: where the reports and exports are served (`cityindex dev` sets it for its
    runs, e.g. http://127.0.0.1:3001); the assets link their report and export there. None: the
    metadata names the files' paths only."""
    text = environment(environ).get(FILES_URL_VARIABLE, "").strip()
    if not text:
        return None
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"{FILES_URL_VARIABLE} must be an http(s) address such as http://127.0.0.1:3001; got {text[:60]!r}"
        )
    return text.rstrip("/")


def cjk_font_dir_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """`CITYINDEX_CJK_FONT_DIR`: a directory holding a Noto CJK font; None: the usual places."""
    return environment(environ).get(CJK_FONT_DIR_VARIABLE) or None


def dagster_postgres_url_from_env(environ: Mapping[str, str] | None = None) -> Secret | None:
    """`CITYINDEX_DAGSTER_POSTGRES_URL`: the Dagster instance on PostgreSQL. It holds a password: kept
    as a `Secret`, never shown."""
    url = environment(environ).get(DAGSTER_POSTGRES_URL_VARIABLE)
    if not url:
        return None
    if not url.startswith("postgresql+psycopg2://"):
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; dagster-postgres ships psycopg2.
        raise ValueError(
            f"{DAGSTER_POSTGRES_URL_VARIABLE} must start with postgresql+psycopg2:// "
            "(e.g. postgresql+psycopg2://user:password@127.0.0.1:5432/dagster)"
        )
    return Secret(url)


def positive_from_env(environ: Mapping[str, str], variable: str, default: int) -> int:
    """A whole number of at least 1 from the environment, else the default."""
    text = (environ.get(variable) or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{variable} must be a whole number of at least 1, got {text[:40]!r}")
    return int(text)
