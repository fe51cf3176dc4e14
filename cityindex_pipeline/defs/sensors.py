"""Sensors: a complete landing drop launches its month's run, once per drop."""

from __future__ import annotations

import json

import dagster as dg

from cityindex_pipeline.defs.jobs import monthly_index_job
from cityindex_pipeline.defs.partitions import is_partition
from cityindex_pipeline.defs.resources import SourceResource
from cityindex_pipeline.sources.landing import complete_drops


@dg.sensor(
    job=monthly_index_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Launches a month's run when landing/<platform>/<YYYY-MM>/_COMPLETE exists for all four "
    "platforms (CITYINDEX_SOURCE=files) and the month is a partition (settled). A re-delivered drop (a "
    "new marker) runs once more.",
)
def landing_drop_sensor(
    context: dg.SensorEvaluationContext, source: SourceResource
) -> dg.SensorResult | dg.SkipReason:
    if source.kind != "files":
        return dg.SkipReason(
            f"CITYINDEX_SOURCE is {source.kind!r}; the landing folder is read only with 'files'"
        )
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests, waiting = [], []
    for drop in complete_drops(source.landing_path):
        if seen.get(str(drop.month)) == drop.fingerprint:
            continue
        if not is_partition(drop.month):  # not settled (or before the first month): looked at again later
            waiting.append(str(drop.month))
            continue
        seen[str(drop.month)] = drop.fingerprint
        requests.append(
            dg.RunRequest(
                run_key=f"landing-{drop.month}-{drop.fingerprint}",
                partition_key=drop.month.partition_key,
                tags={"cityindex/landing_drop": drop.fingerprint},
            )
        )
    if not requests:
        return dg.SkipReason(
            f"complete drops of {', '.join(waiting)} wait: not yet partitions of the graph (a month "
            "becomes one once it has settled, CITYINDEX_PUBLICATION_DELAY_DAYS after it closed, and "
            "only from CITYINDEX_FIRST_MONTH)"
            if waiting
            else "no new complete drop in the landing folder"
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen, sort_keys=True))
