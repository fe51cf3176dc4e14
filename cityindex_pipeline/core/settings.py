"""Settings read from the environment once: where data lives and which source feeds the raw layer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SOURCES = ("simulated", "files", "api")


@dataclass(frozen=True)
class Settings:
    home: Path
    source: str
    seed: int
    settling_days: int = 5
    """Days after a month closes (Beijing time) before it may be published (`CITYINDEX_SETTLING_DAYS`)."""

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


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    """`CITYINDEX_HOME` (default ./.cityindex), `CITYINDEX_SOURCE` (default simulated), `CITYINDEX_SEED`,
    `CITYINDEX_SETTLING_DAYS` (default 5)."""
    env = os.environ if environ is None else environ
    source = env.get("CITYINDEX_SOURCE", "simulated").strip().lower() or "simulated"
    if source not in SOURCES:
        raise ValueError(f"CITYINDEX_SOURCE must be one of {', '.join(SOURCES)}; got {source!r}")
    seed_text = env.get("CITYINDEX_SEED", "20240901")
    try:
        seed = int(seed_text)
    except ValueError:
        raise ValueError(f"CITYINDEX_SEED must be an integer; got {seed_text!r}") from None
    home = Path(env.get("CITYINDEX_HOME") or ".cityindex").expanduser().resolve()
    settling_text = env.get("CITYINDEX_SETTLING_DAYS", "5")
    try:
        settling_days = int(settling_text)
    except ValueError:
        raise ValueError(f"CITYINDEX_SETTLING_DAYS must be an integer; got {settling_text!r}") from None
    if settling_days < 0:
        raise ValueError(f"CITYINDEX_SETTLING_DAYS must not be negative; got {settling_days}")
    return Settings(home=home, source=source, seed=seed, settling_days=settling_days)
