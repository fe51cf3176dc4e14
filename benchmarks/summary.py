"""The bench's targets, each with its figure and whether it is met, and the table `cityindex bench`
prints."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "framework_share_at_10": 1 / 3,
    "raw_to_clean_vs_floor": 2.0,
    "speedup_vs_pandas_at_10": 5.0,
    "rss_at_100_gib": 4.0,
    "trace_seconds_at_10": 0.5,
    "backfill_vs_in_process": 1.5,
}


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """Each target with its figure and whether it is met (None when its scale was not run)."""
    by_scale = {r["scale"]: r for r in report["scales"]}
    ten, hundred = by_scale.get(10), by_scale.get(100)
    checks: dict[str, Any] = {}

    def put(name: str, value: float | None, met: bool | None) -> None:
        checks[name] = {"value": value, "target": TARGETS.get(name), "met": met}

    share = ten["end_to_end"]["framework_share"] if ten else None
    put("framework_share_at_10", share, None if share is None else share <= 1 / 3)
    worst = max(r["raw_to_clean"]["ratio_to_floor"] for r in report["scales"])
    put("raw_to_clean_vs_floor", worst, worst <= 2.0)
    speedup = ten["pandas_peer"]["speedup"] if ten else None
    same = ten["pandas_peer"]["max_score_difference"] <= 1e-9 if ten else None
    put("speedup_vs_pandas_at_10", speedup, None if speedup is None else speedup >= 5.0 and same)
    rss = hundred["peak_rss_mib"] / 1024 if hundred else None
    put("rss_at_100_gib", rss, None if rss is None else rss <= 4.0)
    if ten and hundred:
        growth = hundred["end_to_end"]["seconds"] / ten["end_to_end"]["seconds"]
        put("time_10_to_100_ratio", growth, growth <= 10.0)
    backfill = report["backfill"]
    worst_backfill = max(f["backfill_vs_in_process"] for f in backfill["scales"]) if backfill else None
    put(
        "backfill_vs_in_process",
        worst_backfill,
        None if worst_backfill is None else worst_backfill <= 1.5 and backfill["success"],
    )
    trace = ten["audit"]["trace_seconds"] if ten else None
    put("trace_seconds_at_10", trace, None if trace is None else trace < 0.5)
    return checks


def print_report(report: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title="cityindex bench (medians)")
    for column in (
        "scale",
        "posts",
        "end to end s",
        "dagster %",
        "GX %",
        "ours %",
        "raw→clean posts/s",
        "x floor",
        "x floor in memory",
        "index city-platforms/s",
        "uncertainty s",
        "pandas peer s",
        "speed-up",
        "max |Δscore|",
        "trace s",
        "verify s",
        "peak RSS MiB",
    ):
        table.add_column(column, justify="right")
    for r in report["scales"]:
        e2e, clean, idx, peer = r["end_to_end"], r["raw_to_clean"], r["index"], r["pandas_peer"]
        verify = r["audit"]["verify_seconds"]
        table.add_row(
            str(r["scale"]),
            f"{clean['posts']:,}",
            f"{e2e['seconds']:.2f}",
            f"{100 * e2e['dagster_seconds'] / e2e['seconds']:.0f}",
            f"{100 * e2e['great_expectations_seconds'] / e2e['seconds']:.0f}",
            f"{100 * e2e['ours_seconds'] / e2e['seconds']:.0f}",
            f"{clean['posts_per_second']:,.0f}",
            f"{clean['ratio_to_floor']:.2f}",
            f"{clean['in_memory_ratio_to_floor']:.2f}",
            f"{idx['city_platforms_per_second']:,.0f}",
            "n/a" if idx.get("uncertainty_seconds") is None else f"{idx['uncertainty_seconds']:.2f}",
            f"{peer['seconds']:.2f}",
            f"{peer['speedup']:.1f}",
            f"{peer['max_score_difference']:.1e}",
            f"{r['audit']['trace_seconds']:.3f}",
            "n/a" if verify is None else f"{verify:.3f}",
            f"{r['peak_rss_mib']:.0f}",
        )
    console.print(table)
    _print_backfill(report["backfill"], console)
    for name, check in report["targets"].items():
        mark = {True: "met", False: "MISSED", None: "not run"}[check["met"]]
        value = "n/a" if check["value"] is None else f"{check['value']:.3g}"
        console.print(f"  target {name}: {value} (target {check['target']}) {mark}")


def _print_backfill(b: dict[str, Any] | None, console: Any) -> None:
    if b is None:
        console.print("backfill: not measured (--backfill-months 0)")
        return
    console.print(f"backfill ({b['mode']}), {b['months']} months from {b['first']}:")
    for f in b["scales"]:
        backfill, in_process = f["backfill"], f["in_process"]
        low, high = f["backfill_vs_in_process_spread"]
        console.print(
            f"  scale {f['scale']} (medians of {f['repeats']}): backfill {backfill['seconds']:.1f} s to the end"
            f" of its last run ({backfill['runs']:.0f} runs, {backfill['run_seconds_total']:.0f} s inside them,"
            f" the first started {backfill['seconds_to_first_run']:.1f} s after the launch), first month"
            f" published at {backfill['seconds_to_first_publication']:.1f} s, backfill marked done at"
            f" {backfill['seconds_to_backfill_end']:.1f} s; in process {in_process['seconds']:.1f} s (first month"
            f" published at {in_process['seconds_to_first_publication']:.1f} s): {f['backfill_vs_in_process']:.2f}x"
            f" (pairs {low:.2f}-{high:.2f}; {f['backfill_end_vs_in_process']:.2f}x to the backfill's end);"
            f" timed {', '.join(f['order'])}"
        )
