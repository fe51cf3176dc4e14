"""The in-process side of the bench's backfill, in a process of its own: months one after the other
by the in-process runner (`materialize_month`, what `cityindex materialize --month A --to B` runs),
the registry scaled as the bench's code location scales it. Started fresh, as a user starts the
command, so its Python start and imports are timed as each backfill run's are.

    python -m benchmarks.months_in_process HOME FIRST LAST SCALE

prints one JSON line: whether every month succeeded, and when (epoch seconds) the first month
ended, which is when it was published."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(arguments: list[str]) -> None:
    home, first, last, scale = Path(arguments[0]), arguments[1], arguments[2], int(arguments[3])
    from benchmarks.scale import bench_settings, registry_scaled
    from cityindex_pipeline.cli.runner import materialize_month
    from cityindex_pipeline.core.months import Month

    months = Month.range(Month.parse(first), Month.parse(last))
    settings = bench_settings(home, first_month=months[0])
    successes, first_published_at = [], None
    with registry_scaled(scale):
        for month in months:
            successes.append(materialize_month(settings, month, printer=lambda _line: None).success)
            first_published_at = first_published_at or time.time()
    print(
        json.dumps(
            {"success": all(successes), "months": len(months), "first_published_at": first_published_at}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
