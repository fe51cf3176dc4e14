"""The `cityindex` command as a user runs it: a real process, a temporary CITYINDEX_HOME."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

CLI = shutil.which("cityindex", path=str(Path(sys.executable).parent)) or "cityindex"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITYINDEX_HOME": str(home), "CITYINDEX_FIRST_MONTH": "2024-08"}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("cli-home")
    done = run(home, "materialize", "--month", "2024-08", "--to", "2024-09")
    assert done.returncode == 0, done.stdout + done.stderr
    return home


def test_materialize_prints_progress_and_records_runs_in_the_local_instance(home):
    assert (home / "warehouse.duckdb").exists()
    assert (home / "dagster" / "dagster.yaml").exists(), "DAGSTER_HOME defaults to $CITYINDEX_HOME/dagster"
    runs = list((home / "dagster" / "storage").iterdir())
    assert len(runs) >= 2, "each month is a run of the persistent instance, visible in the UI"


def test_top_prints_the_published_top_ten(home):
    done = run(home, "top", "--month", "2024-09")
    assert done.returncode == 0, done.stderr
    assert "published v1" in done.stdout
    ranks = [line.split("│")[1].strip() for line in done.stdout.splitlines() if line.startswith("│")]
    assert ranks == [str(n) for n in range(1, 11)]
    platform = run(home, "top", "--month", "2024-09", "--platform", "youtube")
    assert platform.returncode == 0 and "youtube index" in platform.stdout


def test_trace_json_reconciles_and_names_the_city_in_chinese(home):
    done = run(home, "trace", "--city", "西安", "--month", "2024-09", "--json")
    assert done.returncode == 0, done.stderr
    traced = json.loads(done.stdout)
    assert traced["city"]["name_en"] == "Xi'an" and traced["reconciled"] is True
    human = run(home, "trace", "--city", "Nanjing", "--month", "2024-09")
    assert "levels reconcile to 1e-9" in human.stdout


def test_clear_errors_for_unknown_city_unclosed_month_and_missing_data(home, tmp_path):
    unknown = run(home, "trace", "--city", "Atlantis", "--month", "2024-09")
    assert unknown.returncode != 0 and "Atlantis" in unknown.stderr and "Traceback" not in unknown.stderr
    future = run(home, "materialize", "--month", "2099-01")
    assert future.returncode != 0 and "has not closed" in future.stderr
    # before the first month of coverage (2024-08 here): no partition of the graph, refused with the way back
    before = run(home, "materialize", "--month", "2022-06")
    assert before.returncode != 0 and "Traceback" not in before.stderr
    assert "2022-06 is before the first month of coverage, 2024-08" in before.stderr
    assert "set CITYINDEX_FIRST_MONTH=2022-06 (or earlier)" in before.stderr
    bad_month = run(home, "top", "--month", "2024-13")
    assert bad_month.returncode != 0 and "month must be 1-12" in bad_month.stderr
    empty = run(tmp_path, "top", "--month", "2024-09")
    assert empty.returncode != 0 and "cityindex demo" in empty.stderr


def test_a_city_name_built_to_break_quoting_is_only_an_unknown_city(home):
    hostile = "Xi'an'); DROP TABLE publish.index; --"
    done = run(home, "trace", "--city", hostile, "--month", "2024-09")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "DROP TABLE" in done.stderr, "the name is echoed back as given, as a name"
    top = run(home, "top", "--month", "2024-09")
    assert top.returncode == 0 and "published v1" in top.stdout, "publish.index is still there"


def test_report_is_written_by_the_monthly_run_and_kept(home):
    html = home / "reports" / "2024-09" / "v1" / "report.html"
    assert html.exists(), "the monthly job's monthly_report asset wrote it"
    text = html.read_text(encoding="utf-8")
    assert "data-quality checks recorded for 2024-09 passed" in text and "this publication's run" in text
    before = html.stat().st_mtime_ns
    again = run(home, "report", "--month", "2024-09", "--publication", "v1")
    assert again.returncode == 0 and "exists already" in again.stdout, again.stdout + again.stderr
    assert html.stat().st_mtime_ns == before
    missing = run(home, "report", "--month", "2024-09", "--publication", "v4")
    assert missing.returncode != 0 and "no publication v4" in missing.stderr
    bad = run(home, "report", "--month", "2024-09", "--publication", "latest")
    assert bad.returncode != 0 and "expected a version such as v1" in bad.stderr


def test_a_closed_month_that_has_not_settled_is_refused_with_the_instant_it_becomes_a_partition(tmp_path):
    """What the partitions say (`defs/partitions.py`), the command line says: a month is run only
    once it is a partition of the graph, and a refusal names the instant, not Dagster's traceback."""
    import click

    from cityindex_pipeline.cli.arguments import require_partition
    from cityindex_pipeline.core.months import Month
    from cityindex_pipeline.core.settings import Settings

    settings = Settings(home=tmp_path, source="simulated", seed=0, first_month=Month(2024, 7))
    september = Month(2024, 9)
    with pytest.raises(click.UsageError) as refused:
        require_partition(settings, september, now=datetime(2024, 10, 5, 15, 59, 59, tzinfo=UTC))
    assert refused.value.message == (
        "2024-09 has closed but not settled: it becomes a partition of the graph, and may be published, "
        "from 2024-10-05T16:00:00+00:00 (00:00 Beijing time on 2024-10-06, day 6 of the next month, with "
        "CITYINDEX_PUBLICATION_DELAY_DAYS 5); run it then"
    )
    with pytest.raises(click.UsageError, match="has not closed yet"):
        require_partition(settings, september, now=datetime(2024, 9, 30, 15, 59, tzinfo=UTC))
    with pytest.raises(click.UsageError, match="before the first month of coverage, 2024-07"):
        require_partition(settings, Month(2024, 6), now=datetime(2026, 1, 1, tzinfo=UTC))
    require_partition(settings, september, now=datetime(2024, 10, 5, 16, tzinfo=UTC))  # settled: runs
