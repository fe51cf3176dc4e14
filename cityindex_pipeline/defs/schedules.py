"""The monthly schedule: a few days after a month closes, materialise it end to end."""

from __future__ import annotations

import dagster as dg

from cityindex_pipeline.core.variables import SCHEDULE_DAY_VARIABLE
from cityindex_pipeline.defs.jobs import monthly_index_job

SCHEDULE_HOUR = 6  # 06:00 Beijing time: the partitions' timezone (Asia/Shanghai) is the schedule's


def monthly_schedule(schedule_day: int) -> dg.ScheduleDefinition:
    """On `schedule_day` of each month (`Settings.schedule_day`) at 06:00 Beijing time, run the month
    that has just closed: platforms keep revising counts for a few days after a month closes."""
    return dg.build_schedule_from_partitioned_job(
        monthly_index_job,
        name="monthly_index_schedule",
        description=f"On day {schedule_day} of each month at {SCHEDULE_HOUR:02d}:00 Asia/Shanghai, materialise "
        f"the previous month end to end ({SCHEDULE_DAY_VARIABLE} sets the day). Off until turned on.",
        day_of_month=schedule_day,
        hour_of_day=SCHEDULE_HOUR,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
