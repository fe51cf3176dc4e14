"""The benchmark's own pieces: the scaled registry, the pandas peer, and the command's figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import polars as pl
import pytest
from click.testing import CliRunner

from benchmarks.scale import scaled_registry
from cityindex_pipeline.cli.main import main
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import load_methodology
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.simulated import SimulatedSource

MONTH = Month(2024, 9)


def test_scaled_registry_multiplies_accounts_and_keeps_them_valid():
    registry = load_registry()
    scaled = scaled_registry(registry, 3)
    assert scaled.accounts.height == 3 * registry.accounts.height
    assert scaled.cities.equals(registry.cities)
    for column in ("account_handle", "platform_account_id"):
        assert scaled.accounts.select("platform", column).n_unique() == scaled.accounts.height
    per_city = scaled.accounts.group_by("city_id", "platform").len()
    once = registry.accounts.group_by("city_id", "platform").len()
    joined = per_city.join(once, on=["city_id", "platform"], suffix="_once")
    assert (joined["len"] == 3 * joined["len_once"]).all()


def test_scaled_registry_multiplies_posts():
    """Each copy pulls its own month from the simulator: k times the accounts, about k times the posts."""
    registry, source = load_registry(), SimulatedSource()

    def posts(accounts) -> int:
        documents = source.pull(MONTH, "youtube", accounts)
        return sum(len(json.loads(doc.body)["items"]) for doc in documents if doc.endpoint == "videos")

    accounts = registry.accounts_for("youtube")
    copies = scaled_registry(registry, 3).accounts_for("youtube")
    assert len(copies) == 3 * len(accounts)
    one, three = posts(accounts), posts(copies)
    assert one > 0
    assert 2.4 * one < three < 3.6 * one


@pytest.mark.parametrize("peer", ["pandas_peer", "sql_peer"])
def test_each_peer_gives_the_pipelines_scores(september_warehouse, peer):
    """The peers compute the same month as the pipeline, so the bench compares like with like."""
    import importlib

    from cityindex_pipeline.core.platforms import PLATFORMS

    run_peer = importlib.import_module(f"benchmarks.{peer}").run_peer

    store = september_warehouse
    with store.session():
        documents = {p: store.raw_documents(MONTH, p).to_pandas() for p in PLATFORMS}
        accounts = store.read_month("clean.registry_accounts", MONTH).to_pandas()
        cities = store.read_month("clean.registry_cities", MONTH).to_pandas()
        weights = store.read_month("idx.platform_weights", MONTH).to_pandas()
        qualitative = store.read_month("idx.qualitative_scores", MONTH).to_pandas()
        previous = store.read_month("clean.account_metrics", MONTH.previous())
        ours = store.read_month("idx.comprehensive_index", MONTH).select("city_id", "score")
    assert previous.height > 0  # the follower growth indicator is exercised too
    followers = {
        (p, h): f for p, h, f in previous.select("platform", "account_handle", "followers").iter_rows()
    }
    peer = pl.from_pandas(run_peer(documents, accounts, cities, weights, qualitative, MONTH, followers))
    joined = ours.join(peer, on="city_id", how="full", coalesce=True, suffix="_peer")
    assert joined.height == ours.height == peer.height
    assert (joined["score"] - joined["score_peer"]).abs().max() <= 1e-9


@pytest.mark.slow
def test_bench_writes_every_metric(tmp_path):
    out = tmp_path / "out.json"
    result = CliRunner().invoke(
        main, ["bench", "--scale", "1", "--repeat", "1", "--backfill-months", "0", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    (one,) = report["scales"]
    assert one["end_to_end"]["success"]
    e2e = one["end_to_end"]
    parts = e2e["dagster_seconds"] + e2e["great_expectations_seconds"] + e2e["ours_seconds"]
    assert parts == pytest.approx(e2e["seconds"])
    clean = one["raw_to_clean"]
    assert (
        clean["posts_per_second"] > 0
        and clean["ratio_to_floor"] > 0
        and clean["in_memory_ratio_to_floor"] > 0
    )
    assert clean["in_memory_seconds"] < clean["seconds"]  # from storage = the read + the same parsing
    assert clean["extract_floor_differing_rows"] == {"clean.posts": 0, "clean.account_metrics": 0}
    assert clean["ratio_to_extract_floor"] == pytest.approx(
        clean["written_seconds"] / clean["extract_floor_seconds"]
    )
    assert report["targets"]["clean_vs_extract_floor"]["met"] is None, "scales 10 and 100 were not run"
    index, sensitivity = one["index"], load_methodology().sensitivity
    assert index["city_platforms_per_second"] > 0 and index["draws"] == 2 * sensitivity.base_samples
    assert index["uncertainty_seconds"] > 0 and index["model_runs"] > index["draws"]  # the Sobol design
    peers = one["peers"]
    assert peers["orders"] == [["ours", "pandas", "sql"]] and peers["best_peer"] in ("pandas", "sql")
    for peer in ("pandas", "sql"):
        assert peers[peer]["max_score_difference"] <= 1e-9, f"{peer} computes the same scores"
        assert peers[peer]["ours_faster_by"] > 0 and peers[peer]["seconds"] > 0
    assert set(one["peaks_mib"]) == {"ours", "pandas", "sql"}
    assert all(p["peak_mib"] >= p["loaded_mib"] > 0 for p in one["peaks_mib"].values())
    stages = one["stages"]
    assert (
        stages["simulator_seconds"] > 0 and stages["stages"]["clean"] > 0 and stages["stages"]["report"] > 0
    )
    assert sum(stages["stages"].values()) + stages["simulator_seconds"] == pytest.approx(
        stages["wall_seconds"]
    )
    assert one["fixed_share"] is None, "the share of fixed costs needs two scales"
    assert "ours against the peers" in result.output and "a month's stages" in result.output
    audit = one["audit"]
    assert audit["trace_seconds"] > 0 and audit["verify_seconds"] > 0 and audit["verify_floor_seconds"] > 0
    assert audit["verify_floor_altered_documents"] == 0, "the floor checks every body's sha256"
    assert one["peak_rss_mib"] > 0
    assert one["engine_peak_rss_mib"] > 0, "the run validated, so its expectation engine ran"
    assert one["drawers_peak_rss_mib"] > 0, "the run wrote its report, so its chart drawers ran"
    assert one["pipeline_peak_rss_mib"] == (
        one["peak_rss_mib"] + one["engine_peak_rss_mib"] + one["drawers_peak_rss_mib"]
    )
    # the backfill through a daemon of its own is left out here (a minute or more of a run queue and a
    # daemon tick on a CI machine's two cores): tests/system backfills through the daemon and asserts
    # its runs, and `cityindex bench` measures it by default
    assert report["backfill"] is None and report["targets"]["backfill_vs_in_process"]["met"] is None
    assert "backfill: not measured (--backfill-months 0)" in result.output
    assert set(report["targets"]) >= {
        "fixed_share_at_10",
        "ours_vs_best_peer_at_10",
        "pipeline_peak_at_100_gib",
    }
    assert report["targets"]["ours_vs_best_peer_at_10"]["met"] is None, "scale 10 was not run"


def _pair(backfill_seconds: float, in_process_seconds: float, order: list[str]) -> dict:
    backfill = {
        "seconds": backfill_seconds,
        "seconds_to_backfill_end": backfill_seconds + 2,
        "seconds_to_first_publication": backfill_seconds / 3,
        "seconds_to_first_run": 4.0,
        "success": True,
        "runs": 3,
        "run_seconds_total": backfill_seconds - 10,
        "run_seconds_median": (backfill_seconds - 10) / 3,
    }
    in_process = {
        "seconds": in_process_seconds,
        "success": True,
        "seconds_to_first_publication": in_process_seconds / 3,
    }
    return {"order": order, "backfill": backfill, "in_process": in_process}


def test_backfill_figures_are_medians_over_pairs_and_the_ratio_is_taken_pair_by_pair():
    from rich.console import Console

    from benchmarks.backfill import _median_figures, scale_figure
    from benchmarks.summary import _print_backfill

    pairs = [
        _pair(90.0, 60.0, ["backfill", "in_process"]),
        _pair(70.0, 50.0, ["in_process", "backfill"]),
        _pair(80.0, 40.0, ["backfill", "in_process"]),
    ]
    figure = scale_figure(1, pairs)
    assert figure["backfill"]["seconds"] == 80.0 and figure["in_process"]["seconds"] == 50.0
    assert figure["backfill"]["runs"] == 3 and figure["backfill"]["success"] is True
    # the median of the pairs' ratios (1.5, 1.4, 2.0), not the ratio of the medians (80 / 50 = 1.6)
    assert figure["backfill_vs_in_process"] == 1.5
    assert figure["backfill_vs_in_process_spread"] == [1.4, 2.0] and figure["repeats"] == 3
    assert figure["order"][1] == "in_process then backfill"
    failed = [{**p["in_process"], "success": i != 1} for i, p in enumerate(pairs)]
    assert _median_figures(failed)["success"] is False, "one failed repeat fails the figure"
    console = Console(width=400, record=True)
    _print_backfill({"mode": "m", "months": 3, "first": "2024-07", "scales": [figure]}, console)
    text = console.export_text()
    assert "scale 1 (medians of 3): backfill 80.0 s" in text and "1.50x (pairs 1.40-2.00" in text
    assert "in process 50.0 s" in text and "in_process then backfill" in text


def test_the_bench_code_location_registers_its_scale_in_every_process_that_loads_it():
    """The daemon's processes of a bench backfill load `benchmarks.scaled_location`: the scale must
    hold for the process's life (a context dropped at once would undo it)."""
    script = (
        "import gc, benchmarks.scaled_location\n"
        "gc.collect()\n"
        "import assets.registry as registry\n"
        "print(registry.load_registry().accounts.height)\n"
    )
    env = {**os.environ, "CITYINDEX_BENCH_SCALE": "3"}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == 3 * load_registry().accounts.height


def test_stages_add_up_to_the_wall_time_with_the_simulator_taken_out_of_the_raw_store():
    from benchmarks.stages import fixed_share, stage_seconds

    steps = {"raw_x": 3.0, "raw_youtube": 1.0, "clean_posts": 2.0, "platform_index_x": 0.5}
    steps |= {"clean_posts_checks": 0.25, "monthly_report": 1.0}
    measured = stage_seconds(steps, wall_seconds=10.0, simulator_seconds=1.5)
    stages = measured["stages"]
    assert stages["raw store"] == 2.5 and stages["clean"] == 2.0 and stages["index"] == 0.5
    assert stages["checks"] == 0.25 and stages["report"] == 1.0 and stages["dagster"] == 2.25
    assert measured["ours_seconds"] == 8.5 == sum(stages.values())
    # t = fixed + per-unit x size: 10 s fixed and 1 s a unit gives 11 s at 1 and 20 s at 10
    assert fixed_share({"ours_seconds": 11.0}, {"ours_seconds": 20.0}, 10) == pytest.approx(0.5)


def test_each_round_puts_another_contender_first():
    from benchmarks.peers import CONTENDERS, rotated

    orders = [rotated(i) for i in range(3)]
    assert [order[0] for order in orders] == list(CONTENDERS)
    assert all(sorted(order) == sorted(CONTENDERS) for order in orders)


def test_the_extract_and_write_floor_writes_the_pipelines_clean_tables(september_warehouse):
    """The floor is timed only if it does the job: its posts and account metrics are the pipeline's,
    row for row, and a month of them is not empty."""
    from benchmarks.extract_floor import extract_and_write_floor

    floor = extract_and_write_floor(september_warehouse.path, MONTH)
    assert floor["rows"]["clean.posts"] > 1_000
    assert floor["rows"]["clean.account_metrics"] > 300
    assert floor["differing_rows"] == {"clean.posts": 0, "clean.account_metrics": 0}
    assert floor["seconds"] > 0
