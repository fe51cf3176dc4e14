"""The monthly schedule: a few settling days after a month closes, materialise it end to end."""

from __future__ import annotations

import os

import dagster as dg

from cityindex_pipeline.defs.jobs import monthly_index_job

DEFAULT_SETTLING_DAY = 5
SCHEDULE_HOUR = 6  # 06:00 Beijing time: the partitions' timezone (Asia/Shanghai) is the schedule's


def settling_day_from_env(environ: dict[str, str] | None = None) -> int:
    """`CITYINDEX_SETTLING_DAY` (1-28, default 5): the day of the next month the schedule runs on.

    Platforms keep revising counts for a few days after a month closes; waiting lets them settle.
    """
    env = os.environ if environ is None else environ
    text = env.get("CITYINDEX_SETTLING_DAY", "").strip() or str(DEFAULT_SETTLING_DAY)
    try:
        day = int(text)
    except ValueError:
        raise ValueError(f"CITYINDEX_SETTLING_DAY must be a day of the month 1-28; got {text!r}") from None
    if not 1 <= day <= 28:
        raise ValueError(f"CITYINDEX_SETTLING_DAY must be a day of the month 1-28; got {day}")
    return day


def monthly_schedule(settling_day: int | None = None) -> dg.ScheduleDefinition:
    """On the settling day of each month at 06:00 Beijing time, run the month that has just closed."""
    day = settling_day_from_env() if settling_day is None else settling_day
    return dg.build_schedule_from_partitioned_job(
        monthly_index_job,
        name="monthly_index_schedule",
        description=f"On day {day} of each month at {SCHEDULE_HOUR:02d}:00 Asia/Shanghai, materialise the "
        "previous month end to end (CITYINDEX_SETTLING_DAY sets the day). Off until turned on.",
        day_of_month=day,
        hour_of_day=SCHEDULE_HOUR,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
