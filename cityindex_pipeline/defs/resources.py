"""Dagster resources: thin, typed handles on the domain's warehouse and source, built from the settings."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import PrivateAttr

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import SETTINGS_METADATA_KEY, Settings
from cityindex_pipeline.core.variables import DEFAULT_FIRST_MONTH, DEFAULT_SCHEDULE_DAY
from cityindex_pipeline.method.config import Methodology, load_methodology
from cityindex_pipeline.quality import engine, suites
from cityindex_pipeline.quality.findings import Finding
from cityindex_pipeline.quality.suites import Expectation
from cityindex_pipeline.reference import plausibility
from cityindex_pipeline.report import rendering
from cityindex_pipeline.sources import Source, make_source
from cityindex_pipeline.warehouse.store import Warehouse


def served_url(files_url: str, folder: str, root: Path, path: Path) -> str | None:
    """The address of `path` (inside `root`, the home's `folder`) on the file server of `cityindex
    dev` (`cli/file_server.py`), or None when nothing serves the files."""
    if not files_url:
        return None
    relative = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    return f"{files_url}/{folder}/{urllib.parse.quote(relative)}" + ("/" if Path(path).is_dir() else "")


def link_metadata(key: str, url: str | None) -> dict[str, dg.MetadataValue]:
    """`{key: url}`, a link the UI opens, for an asset's metadata; nothing when no server serves the files."""
    return {key: dg.MetadataValue.url(url)} if url else {}


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file; schemas are created on first use.

    `hold`: how long a run keeps the file open. `run` (the default): from the first step that uses
    it to the run's end, the schema ensured once, so a step's reads and writes cost their queries
    only (opening, checking and closing the file cost 35-45 ms, each of a month's 34 steps); DuckDB's
    single-writer lock is then the run's, and a command beside it waits for the run to end (up to
    `lock_timeout_seconds`). `step`: opened and closed by each step, so that another process gets in
    between steps."""

    path: str
    lock_timeout_seconds: float = 120.0
    hold: Literal["run", "step"] = "run"
    _run_scope: ExitStack | None = PrivateAttr(default=None)
    _run_warehouse: Warehouse | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.hold == "run":
            self._run_scope = ExitStack()  # the file is opened by the first step that asks

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._run_scope is not None:
            self._run_scope.close()
        self._run_scope, self._run_warehouse = None, None

    @contextmanager
    def held(self) -> Iterator[Warehouse]:
        """The warehouse with its file open (`Connection.held`) for the block, or, held for the run,
        from the first block on; each operation in it still has a connection and a transaction of
        its own. No other process can open the file meanwhile, so the schema ensured at the opening
        holds until it is closed."""
        if self._run_warehouse is not None:
            yield self._run_warehouse
            return
        warehouse = Warehouse(Path(self.path), lock_timeout_seconds=self.lock_timeout_seconds)
        with ExitStack() as opened:
            opened.enter_context(warehouse.held())
            warehouse.ensure_schema()
            if self._run_scope is not None:  # kept open until the run ends
                self._run_scope.enter_context(opened.pop_all())
                self._run_warehouse = warehouse
            yield warehouse


class SourceResource(dg.ConfigurableResource):
    """Which source feeds the raw layer: `simulated` (default), `files` or `api`."""

    kind: str = "simulated"
    seed: int = 20240901
    landing_dir: str = ".cityindex/landing"

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir)

    def get(self) -> Source:
        return make_source(self.kind, seed=self.seed, landing_dir=self.landing_path)


class PublicationResource(dg.ConfigurableResource):
    """Where publications are exported and when a month may be published."""

    exports_dir: str = ".cityindex/exports"
    settling_days: int = 5
    schedule_day: int = DEFAULT_SCHEDULE_DAY
    """A month's publication is due by the end of this day of the next month (Beijing time)."""
    as_of: str = ""
    """The moment the freshness check compares with (ISO 8601); empty: the clock. For tests and audits."""
    files_url: str = ""
    """Where `cityindex dev` serves the exports (`CITYINDEX_FILES_URL`); empty: not served."""

    @property
    def exports_path(self) -> Path:
        return Path(self.exports_dir)

    def url_of(self, path: Path) -> str | None:
        """The export file or folder's address on the file server, if one serves it."""
        return served_url(self.files_url, "exports", self.exports_path, path)

    def now(self) -> datetime:
        if not self.as_of:
            return datetime.now(UTC)
        moment = datetime.fromisoformat(self.as_of)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class MonthHistory(dg.ConfigurableResource):
    """The first month of coverage (`CITYINDEX_FIRST_MONTH`, YYYY-MM): it reads no previous month, and
    a later month requires its previous month computed (`quality/history.py`)."""

    first_month: str = str(DEFAULT_FIRST_MONTH)

    @property
    def first(self) -> Month:
        return Month.parse(self.first_month)


class PublishOptions(dg.ConfigurableResource):
    """What the person launching a run asks of its publication; set in run config (Launchpad):

    resources:
      publish_options:
        config:
          reason: "corrected Instagram pull"          # why this run publishes a new version
          override_errors: "approved by the editor"   # publish over failed ERROR checks, and why
    """

    reason: str = ""
    override_errors: str = ""


class MethodologyVersion(dg.ConfigurableResource):
    """Which methodology the assets compute with: an archived version (`method/versions/`), or ""
    for the one `CITYINDEX_METHODOLOGY_VERSION` names (the current `methodology.yaml` when unset);
    `resources_for` sets the settings' version. `cityindex verify` sets the version a publication
    recorded, for its own run only."""

    version: str = ""

    def load(self) -> Methodology:
        return load_methodology(self.version.strip() or None)


class PlausibilityFiles(dg.ConfigurableResource):
    """The files the plausibility checks read: the bounds (plausibility.csv) and the known jumps
    (known_jumps.csv). Empty: the versioned files in cityindex_pipeline/data/; a path, for one run
    (a test, or an audit of a month against another set of flags)."""

    bounds: str = ""
    known_jumps: str = ""

    def load_bounds(self) -> pl.DataFrame:
        return plausibility.load_bounds(Path(self.bounds or plausibility.DEFAULT_BOUNDS_CSV))

    def load_known_jumps(self, month: Month) -> pl.DataFrame:
        return plausibility.load_known_jumps(
            month, Path(self.known_jumps or plausibility.DEFAULT_KNOWN_JUMPS_CSV)
        )


class ExpectationsResource(dg.ConfigurableResource):
    """The expectation suites' engine (`quality/engine.py`): Great Expectations in a process of its
    own, started when a run that validates starts, so that its import runs beside the first steps.
    Only the checks that validate a suite require this resource, so a run without them starts nothing.
    `in_process`: validate in the run's own process instead (the import then on the first check)."""

    in_process: bool = False

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if not self.in_process:
            engine.start()

    def validate(self, frame: pl.DataFrame, suite: list[Expectation], name: str) -> dict[str, Finding]:
        """One Finding per check of `suite` on `frame` (`suites.validate`)."""
        if self.in_process:
            return suites.validate(frame, suite, name)
        return engine.validate(frame, suite, name)


class ChartsResource(dg.ConfigurableResource):
    """The report's chart drawers (`report/rendering.py`): processes that start their JavaScript
    engines when a run that writes a report starts, so that the report's step only draws. Only the
    report asset requires this resource, so a run without it starts none. `start_with_run: false`
    leaves them to the report's step (the engines then start there)."""

    start_with_run: bool = True

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.start_with_run:
            rendering.start_drawers()


class ReportsResource(dg.ConfigurableResource):
    """Where monthly reports are written: `$CITYINDEX_HOME/reports`."""

    directory: str
    files_url: str = ""
    """Where `cityindex dev` serves the reports (`CITYINDEX_FILES_URL`); empty: not served."""

    @property
    def path(self) -> Path:
        return Path(self.directory)

    def url_of(self, path: Path) -> str | None:
        """The report file or folder's address on the file server, if one serves it."""
        return served_url(self.files_url, "reports", self.path, path)


class SettingsRecord(dg.ConfigurableResource):
    """The settings the definitions were built with (`Settings.record()`: every variable's value, secrets
    REDACTED, the deprecated names used), as JSON text; every asset records it on its materialization,
    so each run, of any selection, shows the configuration it ran with."""

    record_json: str = "{}"

    def metadata(self) -> dict[str, dg.MetadataValue]:
        """The one `cityindex/settings` entry of an asset's materialization metadata."""
        return {SETTINGS_METADATA_KEY: dg.MetadataValue.json(json.loads(self.record_json))}


def resources_for(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path)),
        "source": SourceResource(
            kind=settings.source, seed=settings.seed, landing_dir=str(settings.landing_dir)
        ),
        "publication": PublicationResource(
            exports_dir=str(settings.exports_dir),
            settling_days=settings.settling_days,
            schedule_day=settings.schedule_day,
            files_url=settings.files_url or "",
        ),
        "history": MonthHistory(first_month=str(settings.first_month)),
        "publish_options": PublishOptions(),
        "methodology_version": MethodologyVersion(version=settings.methodology_version or ""),
        "plausibility": PlausibilityFiles(),
        "expectations": ExpectationsResource(),
        "charts": ChartsResource(),
        "reports": ReportsResource(directory=str(settings.reports_dir), files_url=settings.files_url or ""),
        "settings": SettingsRecord(record_json=json.dumps(settings.record(), sort_keys=True)),
    }
