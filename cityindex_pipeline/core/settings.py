"""Settings read from the environment once: every `CITYINDEX_*` variable, typed, in one frozen object.

The code location reads them once (`settings_from_env`) and hands each part to what uses it: the
resources, the schedule and the freshness policy. Every run records `Settings.record()` (secrets
redacted, deprecated names named) on its materializations, so a run explains itself. The variables
themselves, with their defaults and checks, are `variables.py`. Platform tokens are not settings: the
API source reads them when it pulls, and never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.variables import (
    BASE_URL_VARIABLES,
    CJK_FONT_DIR_VARIABLE,
    DAGSTER_POSTGRES_URL_VARIABLE,
    DEFAULT_BASE_URLS,
    DEFAULT_FIRST_MONTH,
    DEFAULT_GRAPH_API_VERSION,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PAGES,
    DEFAULT_PUBLICATION_DELAY_DAYS,
    DEFAULT_SCHEDULE_DAY,
    FILES_URL_VARIABLE,
    FIRST_MONTH_VARIABLE,
    GRAPH_API_VERSION_VARIABLE,
    HOME_VARIABLE,
    MAX_BYTES_VARIABLE,
    MAX_PAGES_VARIABLE,
    METHODOLOGY_VERSION_VARIABLE,
    PUBLICATION_DELAY_VARIABLE,
    RENAMED,
    SCHEDULE_DAY_VARIABLE,
    SEED_VARIABLE,
    SOURCE_VARIABLE,
    Secret,
    check_schedule_after_delay,
    cjk_font_dir_from_env,
    dagster_postgres_url_from_env,
    environment,
    files_url_from_env,
    first_month_from_env,
    methodology_version_from_env,
    positive_from_env,
    publication_delay_days_from_env,
    renamed_names_used,
    schedule_day_from_env,
    seed_from_env,
    source_from_env,
)

SETTINGS_METADATA_KEY = "cityindex/settings"
"""The metadata entry under which every asset's materialization records its run's settings."""


VARIABLE = "variable"
"""A field's metadata key: the environment variable it is read from (the record names the field so)."""


@dataclass(frozen=True)
class ApiSettings:
    """Where the live platform APIs are and how much one account's month may take (`CITYINDEX_SOURCE=api`)."""

    graph_version: str = field(
        default=DEFAULT_GRAPH_API_VERSION, metadata={VARIABLE: GRAPH_API_VERSION_VARIABLE}
    )
    facebook_base_url: str = field(
        default=DEFAULT_BASE_URLS["facebook"], metadata={VARIABLE: BASE_URL_VARIABLES["facebook"]}
    )
    instagram_base_url: str = field(
        default=DEFAULT_BASE_URLS["instagram"], metadata={VARIABLE: BASE_URL_VARIABLES["instagram"]}
    )
    x_base_url: str = field(default=DEFAULT_BASE_URLS["x"], metadata={VARIABLE: BASE_URL_VARIABLES["x"]})
    youtube_base_url: str = field(
        default=DEFAULT_BASE_URLS["youtube"], metadata={VARIABLE: BASE_URL_VARIABLES["youtube"]}
    )
    max_pages: int = field(default=DEFAULT_MAX_PAGES, metadata={VARIABLE: MAX_PAGES_VARIABLE})
    max_bytes: int = field(default=DEFAULT_MAX_BYTES, metadata={VARIABLE: MAX_BYTES_VARIABLE})

    @property
    def base_urls(self) -> dict[str, str]:
        """Platform -> base URL."""
        return {platform: getattr(self, f"{platform}_base_url") for platform in BASE_URL_VARIABLES}


def api_settings_from_env(environ: Mapping[str, str] | None = None) -> ApiSettings:
    """`CITYINDEX_GRAPH_API_VERSION`, `CITYINDEX_<PLATFORM>_BASE_URL`, `CITYINDEX_API_MAX_PAGES_PER_ACCOUNT`
    and `CITYINDEX_API_MAX_BYTES_PER_ACCOUNT`; an unset or empty variable takes its default."""
    env = environment(environ)
    return ApiSettings(
        graph_version=env.get(GRAPH_API_VERSION_VARIABLE) or DEFAULT_GRAPH_API_VERSION,
        **{
            f"{platform}_base_url": env.get(variable) or DEFAULT_BASE_URLS[platform]
            for platform, variable in BASE_URL_VARIABLES.items()
        },
        max_pages=positive_from_env(env, MAX_PAGES_VARIABLE, DEFAULT_MAX_PAGES),
        max_bytes=positive_from_env(env, MAX_BYTES_VARIABLE, DEFAULT_MAX_BYTES),
    )


@dataclass(frozen=True)
class Settings:
    """What the pipeline is configured with: each field read from the variable its metadata names."""

    home: Path = field(metadata={VARIABLE: HOME_VARIABLE})
    source: str = field(metadata={VARIABLE: SOURCE_VARIABLE})
    seed: int = field(metadata={VARIABLE: SEED_VARIABLE})
    settling_days: int = field(
        default=DEFAULT_PUBLICATION_DELAY_DAYS, metadata={VARIABLE: PUBLICATION_DELAY_VARIABLE}
    )
    """Days after a month closes (Beijing time) before it may be published (`CITYINDEX_PUBLICATION_DELAY_DAYS`)."""
    schedule_day: int = field(default=DEFAULT_SCHEDULE_DAY, metadata={VARIABLE: SCHEDULE_DAY_VARIABLE})
    """The day of the next month (1-28) the monthly schedule runs on (`CITYINDEX_SCHEDULE_DAY`)."""
    first_month: Month = field(default=DEFAULT_FIRST_MONTH, metadata={VARIABLE: FIRST_MONTH_VARIABLE})
    """The first month of coverage (`CITYINDEX_FIRST_MONTH`): it reads no previous month, and every
    later month requires its previous month computed."""
    methodology_version: str | None = field(default=None, metadata={VARIABLE: METHODOLOGY_VERSION_VARIABLE})
    """The archived methodology the runs compute with; None: the current one."""
    cjk_font_dir: str | None = field(default=None, metadata={VARIABLE: CJK_FONT_DIR_VARIABLE})
    files_url: str | None = field(default=None, metadata={VARIABLE: FILES_URL_VARIABLE})
    """Where the reports and exports are served (`cityindex dev`); None: not served."""
    dagster_postgres_url: Secret | None = field(
        default=None, metadata={VARIABLE: DAGSTER_POSTGRES_URL_VARIABLE}
    )
    """Holds a password: a `Secret`, REDACTED wherever it is shown."""
    api: ApiSettings = field(default_factory=ApiSettings)
    deprecated_names: tuple[str, ...] = ()
    """The old names of renamed variables that were set (see `variables.RENAMED`)."""

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")

    def record(self) -> dict[str, Any]:
        """Every setting by its variable, as JSON values (secrets REDACTED), and the deprecated names
        used with their new names: what a run records under `cityindex/settings`."""
        entries: dict[str, Any] = {}
        for owner in (self, self.api):
            for item in fields(owner):
                if VARIABLE in item.metadata:
                    entries[item.metadata[VARIABLE]] = _shown(getattr(owner, item.name))
        entries["deprecated_names_used"] = {old: RENAMED[old] for old in self.deprecated_names}
        return entries


def _shown(value: Any) -> Any:
    """A setting as a JSON value: a path or a month as text, a secret as REDACTED (its str)."""
    if isinstance(value, Path | Secret | Month):
        return str(value)
    return value


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Every `CITYINDEX_*` setting: `CITYINDEX_HOME` (default ./.cityindex), `CITYINDEX_SOURCE` (default
    simulated), `CITYINDEX_SEED`, `CITYINDEX_FIRST_MONTH` (default 2024-07), `CITYINDEX_PUBLICATION_DELAY_DAYS` and `CITYINDEX_SCHEDULE_DAY` (defaults
    5 and 1 + the delay, or their old names; the schedule day at least 1 + the delay), `CITYINDEX_METHODOLOGY_VERSION`, `CITYINDEX_CJK_FONT_DIR`, `CITYINDEX_FILES_URL`,
    `CITYINDEX_DAGSTER_POSTGRES_URL` and the API's; each checked, a wrong one raising ValueError."""
    env = environment(environ)
    source = source_from_env(env)
    seed = seed_from_env(env)
    home = Path(env.get(HOME_VARIABLE) or ".cityindex").expanduser().resolve()
    settling_days = publication_delay_days_from_env(env)
    schedule_day = schedule_day_from_env(env, settling_days)
    check_schedule_after_delay(schedule_day, settling_days)
    return Settings(
        home=home,
        source=source,
        seed=seed,
        settling_days=settling_days,
        schedule_day=schedule_day,
        first_month=first_month_from_env(env),
        methodology_version=methodology_version_from_env(env),
        cjk_font_dir=cjk_font_dir_from_env(env),
        files_url=files_url_from_env(env),
        dagster_postgres_url=dagster_postgres_url_from_env(env),
        api=api_settings_from_env(env),
        deprecated_names=renamed_names_used(env),
    )
