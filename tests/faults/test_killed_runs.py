"""A run killed with SIGKILL in the middle of each writing layer (raw, clean, index, publish): after
the month is run again, no partial month, no row twice, no raw document lost, and the earlier
publication byte for byte as it was. And a warehouse file lost or truncated: named, and rebuilt from
the archive."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from support.publication_helpers import files_of

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import TABLES

CLI = shutil.which("cityindex", path=str(Path(sys.executable).parent)) or "cityindex"
KILL_DURING = Path(__file__).with_name("kill_during.py")
AUGUST, SEPTEMBER = Month(2024, 8), Month(2024, 9)
MONTHLY_LAYERS = ("clean.posts", "clean.account_metrics", "idx.platform_index", "idx.comprehensive_index")


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    return {**env, "CITYINDEX_HOME": str(home), "CITYINDEX_FIRST_MONTH": str(AUGUST), **extra}


def cityindex(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=environment(home), capture_output=True, text=True, timeout=600, check=False
    )


def killed_at(home: Path, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KILL_DURING), *args],
        env=environment(home, KILL_AT=target),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def august_home(tmp_path_factory) -> Path:
    """August materialised and published: the publication a crash in September must not touch."""
    home = tmp_path_factory.mktemp("august")
    done = cityindex(home, "materialize", "--month", str(AUGUST))
    assert done.returncode == 0, done.stdout + done.stderr
    return home


@pytest.fixture(scope="module")
def september_as_it_should_be(august_home, tmp_path_factory) -> tuple[pl.DataFrame, dict[str, int]]:
    """September run without interruption: its publication and the rows of each layer."""
    home = tmp_path_factory.mktemp("reference") / "home"
    shutil.copytree(august_home, home)
    done = cityindex(home, "materialize", "--month", str(SEPTEMBER))
    assert done.returncode == 0, done.stdout + done.stderr
    warehouse = Warehouse(home / "warehouse.duckdb")
    return published(warehouse, SEPTEMBER), month_rows(warehouse)


def month_rows(warehouse: Warehouse) -> dict[str, int]:
    return {table: warehouse.read_month(table, SEPTEMBER).height for table in MONTHLY_LAYERS}


def published(warehouse: Warehouse, month: Month) -> pl.DataFrame:
    rows = warehouse.read_month("publish.index", month).drop("run_id")
    return rows.sort("version", "city_id")


def raw_state(warehouse: Warehouse) -> pl.DataFrame:
    return warehouse.read_month("raw.documents", SEPTEMBER).select(
        "pull_id", "account_handle", "endpoint", "page", "sha256"
    )


@pytest.mark.parametrize(
    "target",
    [
        "store_accounts:3",
        "insert:clean.posts",
        "insert:idx.comprehensive_index",
        "insert:publish.index",
    ],
)
def test_a_killed_run_leaves_no_partial_month_and_a_rerun_completes_it(
    august_home, september_as_it_should_be, tmp_path, target
):
    home = tmp_path / "home"
    shutil.copytree(august_home, home)
    warehouse = Warehouse(home / "warehouse.duckdb")
    august_before = warehouse.publications(AUGUST).drop("run_id"), published(warehouse, AUGUST)

    crash = killed_at(home, target, "materialize", "--month", str(SEPTEMBER))

    assert crash.returncode == -signal.SIGKILL, crash.stdout + crash.stderr
    publication, rows_per_table = september_as_it_should_be
    rows_after_crash = month_rows(warehouse)
    for table, rows in rows_after_crash.items():
        assert rows in (0, rows_per_table[table]), f"{table}: the whole month or none of it"
    killed_table = target.partition(":")[2]
    if killed_table in rows_after_crash:
        assert rows_after_crash[killed_table] == 0, "the write killed before its commit left nothing"
    assert warehouse.publications(SEPTEMBER).is_empty()
    stored = warehouse.query(
        "SELECT a.pull_id, a.account_handle, a.documents, count(d.sha256) AS found "
        "FROM raw.pull_accounts a LEFT JOIN raw.documents d USING (pull_id, account_handle) "
        "WHERE a.month = $month GROUP BY ALL",
        {"month": SEPTEMBER.first_day},
    )
    assert stored.filter(pl.col("documents") != pl.col("found")).is_empty(), "no account half-stored"
    raw_after_crash = raw_state(warehouse)
    if target.startswith("store_accounts"):
        assert warehouse.query("SELECT * FROM raw.pulls WHERE status = 'in_progress'").height == 1

    rerun = cityindex(home, "materialize", "--month", str(SEPTEMBER))

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    raw_after_rerun = raw_state(warehouse)
    assert raw_after_crash.join(raw_after_rerun, on=list(raw_after_crash.columns), how="anti").is_empty(), (
        "every raw document stored before the crash is still there"
    )
    assert not raw_after_rerun.select("pull_id", "account_handle", "endpoint", "page").is_duplicated().any()
    posts = warehouse.read_month("clean.posts", SEPTEMBER)
    assert not posts.select("platform", "post_id").is_duplicated().any()
    assert warehouse.query("SELECT * FROM raw.pulls WHERE status = 'in_progress'").is_empty()
    assert warehouse.publications(AUGUST).drop("run_id").equals(august_before[0]), "August's record as it was"
    assert published(warehouse, AUGUST).equals(august_before[1]), "August's numbers as they were"
    september = published(warehouse, SEPTEMBER)
    assert september["version"].unique().to_list() == [1]
    assert september.equals(publication), "the same numbers as a run never interrupted"
    assert month_rows(warehouse) == rows_per_table


def all_rows(warehouse: Warehouse, schema: str) -> dict[str, list[tuple]]:
    """Every row of every table of a schema, sorted (run ids included: a restore keeps them)."""
    tables = [table for table in TABLES if table.startswith(f"{schema}.")]
    with warehouse.connect() as con:
        return {table: con.sql(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in tables}


def test_a_lost_warehouse_is_rebuilt_from_the_archive_and_every_publication_verifies(august_home, tmp_path):
    """The machine died while publishing September and took the warehouse file with it: `rebuild`
    recreates it from the archive, computes August again (nothing new is published), `verify` passes,
    and every export is byte for byte as it was."""
    home = tmp_path / "home"
    shutil.copytree(august_home, home)
    warehouse = Warehouse(home / "warehouse.duckdb")
    raw, publish, exports = (
        all_rows(warehouse, "raw"),
        all_rows(warehouse, "publish"),
        files_of(home / "exports"),
    )
    staged = home / "exports" / "2024-09" / ".v1.staged-0badf00d"  # what a kill while staging leaves
    staged.mkdir(parents=True)
    (staged / "index.csv").write_text("half written", encoding="utf-8")
    (home / "warehouse.duckdb").unlink()

    lost = cityindex(home, "tables")
    assert lost.returncode == 1 and "Traceback" not in lost.stderr, lost.stderr
    assert (
        f"no warehouse at {home / 'warehouse.duckdb'}" in lost.stderr and "`cityindex rebuild`" in lost.stderr
    )

    rebuilt = cityindex(home, "rebuild")

    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "1 publication of 1 month" in rebuilt.stdout
    assert "2024-08: unchanged, v1 stands" in rebuilt.stdout, rebuilt.stdout
    verified = cityindex(home, "verify", "--month", str(AUGUST))
    assert verified.returncode == 0 and "match" in verified.stdout, verified.stdout + verified.stderr
    (kept,) = (home / "exports" / "2024-09").glob("unconfirmed-v1-*")
    assert (
        f"kept aside: {kept}" in rebuilt.stdout
        and (kept / "index.csv").read_text(encoding="utf-8") == "half written"
    )
    shutil.rmtree(kept.parent)
    assert files_of(home / "exports") == exports, "every export byte for byte"
    assert all_rows(warehouse, "raw") == raw and all_rows(warehouse, "publish") == publish
    assert warehouse.read_month("idx.comprehensive_index", AUGUST).height == 133, "the month computed again"


def test_a_truncated_warehouse_stops_every_command_naming_the_file_and_rebuild(august_home, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(august_home, home)
    path = home / "warehouse.duckdb"
    os.truncate(path, path.stat().st_size // 3)
    for command in (["tables"], ["top", "--month", str(AUGUST)], ["materialize", "--month", str(AUGUST)]):
        done = cityindex(home, *command)
        assert done.returncode == 1 and "Traceback" not in done.stderr, (command, done.stderr)
        assert f"{path} is damaged" in done.stderr and "`cityindex rebuild`" in done.stderr, (
            command,
            done.stderr,
        )
