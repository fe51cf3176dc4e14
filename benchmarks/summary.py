"""The bench's targets, each with its figure and whether it is met, and the table `cityindex bench`
prints."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "fixed_share_at_10": 1 / 3,
    "framework_share_at_10": 1 / 3,
    "raw_to_clean_vs_floor": 2.0,
    "clean_vs_extract_floor": 1.25,
    "ours_vs_best_peer_at_10": 2.0,
    "ours_vs_best_peer_at_100": 2.0,
    "pipeline_peak_at_100_gib": 2.0,
    "trace_seconds_at_10": 0.5,
    "verify_vs_floor_at_10": 2.0,
    "backfill_vs_in_process": 1.5,
}
SAME_SCORES = 1e-9


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """Each target with its figure and whether it is met (None when its scale was not run)."""
    by_scale = {r["scale"]: r for r in report["scales"]}
    ten, hundred = by_scale.get(10), by_scale.get(100)
    checks: dict[str, Any] = {}

    def put(name: str, value: float | None, met: bool | None) -> None:
        checks[name] = {"value": value, "target": TARGETS.get(name), "met": met}

    fixed = ten.get("fixed_share") if ten else None
    put("fixed_share_at_10", fixed, None if fixed is None else fixed <= 1 / 3)
    share = ten["end_to_end"]["framework_share"] if ten else None
    put("framework_share_at_10", share, None if share is None else share <= 1 / 3)
    worst = max(r["raw_to_clean"]["ratio_to_floor"] for r in report["scales"])
    put("raw_to_clean_vs_floor", worst, worst <= 2.0)
    large = [r["raw_to_clean"] for r in report["scales"] if r["scale"] >= 10]
    extract = max((c["ratio_to_extract_floor"] for c in large), default=None)
    same = all(sum(c["extract_floor_differing_rows"].values()) == 0 for c in large)
    put("clean_vs_extract_floor", extract, None if extract is None else extract <= 1.25 and same)
    for scale, figures in (("10", ten), ("100", hundred)):
        peers = figures["peers"] if figures else None
        faster = peers["ours_faster_than_best_peer_by"] if peers else None
        same = peers and all(peers[p]["max_score_difference"] <= SAME_SCORES for p in ("pandas", "sql"))
        put(f"ours_vs_best_peer_at_{scale}", faster, None if faster is None else faster >= 2.0 and bool(same))
    peak = _pipeline_peak(hundred) / 1024 if hundred else None
    put("pipeline_peak_at_100_gib", peak, None if peak is None else peak < 2.0)
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
    audit = ten["audit"] if ten else {}
    verify_ratio = (
        audit["verify_seconds"] / audit["verify_floor_seconds"] if audit.get("verify_floor_seconds") else None
    )
    put("verify_vs_floor_at_10", verify_ratio, None if verify_ratio is None else verify_ratio <= 2.0)
    return checks


def print_report(report: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title="cityindex bench: the pipeline (medians)")
    columns = (
        "scale",
        "posts",
        "end to end s",
        "spread",
        "dagster %",
        "GX %",
        "fixed %",
        "raw→clean posts/s",
    )
    columns += (
        "x parse floor",
        "x floor in memory",
        "clean+metrics s",
        "x extract-write floor",
        "index city-platforms/s",
        "uncertainty s",
        "trace s",
    )
    columns += ("verify s", "x verify floor", "pipeline peak MiB (+ GX engine + chart drawers)")
    for column in columns:
        table.add_column(column, justify="right")
    for r in report["scales"]:
        e2e, clean, idx = r["end_to_end"], r["raw_to_clean"], r["index"]
        verify, fixed = r["audit"]["verify_seconds"], r.get("fixed_share")
        table.add_row(
            str(r["scale"]),
            f"{clean['posts']:,}",
            f"{e2e['seconds']:.2f}",
            "{:.2f}-{:.2f}".format(*e2e["spread"]),
            f"{100 * e2e['dagster_seconds'] / e2e['seconds']:.0f}",
            f"{100 * e2e['great_expectations_seconds'] / e2e['seconds']:.0f}",
            "n/a" if fixed is None else f"{100 * fixed:.0f}",
            f"{clean['posts_per_second']:,.0f}",
            f"{clean['ratio_to_floor']:.2f}",
            f"{clean['in_memory_ratio_to_floor']:.2f}",
            f"{clean['written_seconds']:.2f}",
            f"{clean['ratio_to_extract_floor']:.2f}",
            f"{idx['city_platforms_per_second']:,.0f}",
            "n/a" if idx.get("uncertainty_seconds") is None else f"{idx['uncertainty_seconds']:.2f}",
            f"{r['audit']['trace_seconds']:.3f}",
            "n/a" if verify is None else f"{verify:.3f}",
            "n/a" if verify is None else f"{verify / r['audit']['verify_floor_seconds']:.2f}",
            f"{r['peak_rss_mib']:.0f} + {r.get('engine_peak_rss_mib', 0):.0f}"
            f" + {r.get('drawers_peak_rss_mib', 0):.0f}",
        )
    console.print(table)
    _print_stages(report["scales"], console)
    _print_peers(report["scales"], console)
    _print_backfill(report["backfill"], console)
    for name, check in report["targets"].items():
        mark = {True: "met", False: "MISSED", None: "not run"}[check["met"]]
        value = "n/a" if check["value"] is None else f"{check['value']:.3g}"
        console.print(f"  target {name}: {value} (target {check['target']}) {mark}")


def _print_stages(scales: list[dict[str, Any]], console: Any) -> None:
    from rich.table import Table

    from benchmarks.stages import STAGES

    table = Table(title="a month's stages, seconds (medians; the simulator timed apart, not in 'ours')")
    for column in ("scale", *STAGES, "ours", "simulator"):
        table.add_column(column, justify="right")
    for r in scales:
        stages = r["stages"]
        table.add_row(
            str(r["scale"]),
            *(f"{stages['stages'][name]:.2f}" for name in STAGES),
            f"{stages['ours_seconds']:.2f}",
            f"{stages['simulator_seconds']:.2f}",
        )
    console.print(table)


def _print_peers(scales: list[dict[str, Any]], console: Any) -> None:
    from rich.table import Table

    table = Table(title="documents in memory → scores: ours against the peers, alternating (medians, spread)")
    for column in ("scale", "rounds", "ours s", "pandas s", "ours faster by", "SQL s", "ours faster by"):
        table.add_column(column, justify="right")
    table.add_column("max |Δscore|", justify="right")
    table.add_column("peak MiB: ours / pandas / SQL alone", justify="right")
    for r in scales:
        peers, peaks = r["peers"], r["peaks_mib"]

        def timed(who: str, peers: dict[str, Any] = peers) -> str:
            low, high = peers[who]["spread"]
            return f"{peers[who]['seconds']:.2f} ({low:.2f}-{high:.2f})"

        def faster(who: str, peers: dict[str, Any] = peers) -> str:
            low, high = peers[who]["ours_faster_by_spread"]
            return f"{peers[who]['ours_faster_by']:.2f}x ({low:.2f}-{high:.2f})"

        worst = max(peers[p]["max_score_difference"] for p in ("pandas", "sql"))
        table.add_row(
            str(r["scale"]),
            str(peers["repeat"]),
            timed("ours"),
            timed("pandas"),
            faster("pandas"),
            timed("sql"),
            faster("sql"),
            f"{worst:.1e}",
            " / ".join(f"{peaks[who]['peak_mib']:.0f}" for who in ("ours", "pandas", "sql")),
        )
    console.print(table)


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


def _pipeline_peak(figures: dict[str, Any]) -> float:
    """The pipeline's peak: its process's, its expectation engine's and its chart drawers' (each at its
    own peak: an upper bound of all at once)."""
    return figures.get("pipeline_peak_rss_mib", figures["peak_rss_mib"])
