"""Where a month's wall time goes, stage by stage, from the run's own step timings.

The in-process runner executes one step at a time, so the steps' durations (Dagster's step stats)
add up to less than the run's wall time; the rest is Dagster outside the steps (making the run,
writing its events, resolving resources). The simulator runs inside the raw steps; it is timed
apart on the same accounts and taken out of "raw store", so that what the pipeline does with a
month's documents is not credited with the time it took to invent them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STAGES = ("reference", "raw store", "clean", "metrics", "index", "uncertainty", "checks", "publication")
STAGES += ("report", "dagster")
STEP_STAGES = {
    "account_registry": "reference",
    "platform_reference": "reference",
    "clean_posts": "clean",
    "clean_account_metrics": "metrics",
    "platform_indicators": "index",
    "platform_weights": "index",
    "qualitative_scores": "index",
    "comprehensive_index": "index",
    "index_uncertainty": "uncertainty",
    "published_index": "publication",
    "monthly_report": "report",
}
"""Each asset's step and its stage; raw_* and platform_index_* by prefix; any other step is a check."""


def stage_of(step_key: str) -> str:
    if step_key.startswith("raw_"):
        return "raw store"
    if step_key.startswith("platform_index_"):
        return "index"
    return STEP_STAGES.get(step_key, "checks")


def stage_seconds(
    step_seconds: Mapping[str, float], wall_seconds: float, simulator_seconds: float
) -> dict[str, Any]:
    """Seconds per stage (the simulator apart, Dagster the wall time no step accounts for), and the
    share of the month's time, without the simulator, that does not grow with the data."""
    stages = dict.fromkeys(STAGES, 0.0)
    for step, seconds in step_seconds.items():
        stages[stage_of(step)] += seconds
    stages["raw store"] = max(stages["raw store"] - simulator_seconds, 0.0)
    stages["dagster"] = max(wall_seconds - sum(step_seconds.values()), 0.0)
    return {
        "stages": stages,
        "simulator_seconds": simulator_seconds,
        "wall_seconds": wall_seconds,
        "ours_seconds": wall_seconds - simulator_seconds,
    }


def step_seconds_of_run(instance: Any, run_id: str) -> dict[str, float]:
    """Each step's duration in the run, from the instance's step stats."""
    return {
        stats.step_key: stats.end_time - stats.start_time
        for stats in instance.get_run_step_stats(run_id)
        if stats.start_time is not None and stats.end_time is not None
    }


def fixed_share(small: Mapping[str, Any], large: Mapping[str, Any], factor: float) -> float | None:
    """The share of the larger month's time (simulator apart) that does not grow with the data, from
    two sizes `factor` apart: with t = a + b·size, a = (factor·t_small − t_large) / (factor − 1)."""
    t_small, t_large = small["ours_seconds"], large["ours_seconds"]
    if factor <= 1 or t_large <= 0:
        return None
    fixed = (factor * t_small - t_large) / (factor - 1)
    return min(max(fixed / t_large, 0.0), 1.0)
