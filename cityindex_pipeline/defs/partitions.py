"""The one partitioning of the graph: calendar months, Beijing time, from January 2023."""

import dagster as dg

FIRST_MONTH = "2023-01-01"

monthly = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, timezone="Asia/Shanghai")
"""A month's partition exists once the month has closed in Beijing; keys look like `2024-09-01`."""

previous_month = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
"""For month-on-month features (follower growth, rank change): month N reads month N-1."""
