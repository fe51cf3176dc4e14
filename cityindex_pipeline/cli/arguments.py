"""What the commands are given: the settings from the environment, months and publication versions
parsed from their options, the warehouse (refused with a message rather than a traceback when it is
missing or damaged), the history a month needs (refused before anything runs), and the month's check
results recorded in the Dagster instance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings, settings_from_env
from cityindex_pipeline.core.variables import PUBLICATION_DELAY_VARIABLE
from cityindex_pipeline.quality.history import REQUIRED_PREVIOUS_TABLES, previous_month_computed, refusal
from cityindex_pipeline.quality.settling import BEIJING, publishable_from
from cityindex_pipeline.warehouse.connection import WarehouseDamagedError
from cityindex_pipeline.warehouse.store import Warehouse


def settings() -> Settings:
    try:
        return settings_from_env()
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Month | None:
    if value is None:
        return None
    try:
        return Month.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def version(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    text = value.lower().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise click.BadParameter(f"a publication version looks like v1 or 2, not {value!r}")
    return int(text)


class Commands(click.Group):
    """Every command: a damaged or lost warehouse is a message naming the file and `cityindex rebuild`,
    not a DuckDB traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WarehouseDamagedError as error:
            raise click.ClickException(str(error)) from None


def warehouse() -> Warehouse:
    """The warehouse of $CITYINDEX_HOME, once it opens: missing, damaged or lost, a message says so."""
    chosen = settings()
    opened = Warehouse(chosen.warehouse_path)
    if not chosen.warehouse_path.exists() and not (opened.archive and opened.archive.holds_data()):
        raise click.ClickException(f"no warehouse at {chosen.warehouse_path}; run `cityindex demo` first")
    with opened.connect():
        pass  # damaged, or lost while the archive holds data: the message names `cityindex rebuild`
    return opened


def require_partition(settings: Settings, month: Month, now: datetime | None = None) -> None:
    """Only a month that is a partition of the graph can be materialised: on or after the first month
    of coverage, closed (Beijing time) and settled (`CITYINDEX_PUBLICATION_DELAY_DAYS` after it closed;
    `defs/partitions.py` adds a month to the graph at that instant). Refused with a sentence saying
    when, or how to extend the history, instead of Dagster's unknown-partition traceback."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if month < settings.first_month:
        raise click.UsageError(refusal(previous_month_computed(month, settings.first_month, {})))
    if month.end_utc > now:
        raise click.UsageError(
            f"{month} has not closed yet (Beijing time); only closed months can be materialised"
        )
    settled_from = publishable_from(month, settings.settling_days)
    if settled_from > now:
        beijing = settled_from.astimezone(BEIJING)
        raise click.UsageError(
            f"{month} has closed but not settled: it becomes a partition of the graph, and may be "
            f"published, from {settled_from.isoformat()} (00:00 Beijing time on {beijing:%Y-%m-%d}, day "
            f"{beijing.day} of the next month, with {PUBLICATION_DELAY_VARIABLE} {settings.settling_days}); "
            "run it then"
        )


def require_history(settings: Settings, month: Month) -> None:
    """The first month a command computes must be the first month of coverage or follow a computed
    month (`quality/history.py`): refused here with the rule's sentence, before any step runs, as the
    check `clean_account_metrics:previous_month_computed` would refuse it in the run."""
    path = settings.warehouse_path
    reads_previous = month > settings.first_month  # the first month (or before) needs nothing of it
    counts = (
        Warehouse(path).month_row_counts(REQUIRED_PREVIOUS_TABLES, month.previous())
        if reads_previous and path.exists()
        else {}
    )
    finding = previous_month_computed(month, settings.first_month, counts)
    if not finding.passed:
        raise click.ClickException(refusal(finding))


def recorded_checks(settings: Settings, month: Month) -> list:
    """The month's check results recorded in the local Dagster instance (none if it has none)."""
    if not (settings.dagster_home / "dagster.yaml").exists():
        return []
    import dagster as dg

    from cityindex_pipeline.cli.instance import ensure_dagster_home
    from cityindex_pipeline.defs.check_results import check_outcomes

    ensure_dagster_home(settings)
    with dg.DagsterInstance.get() as instance:
        return check_outcomes(instance, month)


def scale_factors(text: str) -> list[int]:
    """`--scale 1,10,100` as integers, each at least 1, or a usage error saying what was given."""
    try:
        scales = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected integers like 1,10,100; got {text!r}") from None
    if not scales or min(scales) < 1:
        raise click.BadParameter(f"scales must be at least 1; got {text!r}")
    return scales
