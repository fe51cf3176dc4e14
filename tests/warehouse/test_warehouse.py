"""The warehouse: atomic month replacement, and tables of an older version extended in place."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import polars as pl
import pytest

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.connection import WarehouseLockedError
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import (
    TABLES,
    WarehouseSchemaError,
    column_definitions,
    create_tables,
)

SEPTEMBER = Month(2024, 9)


def _reference(note: str) -> pl.DataFrame:
    """One platform's reference row, as `idx.platform_reference` holds it."""
    return pl.DataFrame(
        {
            "platform": ["x"],
            "monthly_active_users_millions": [1.0],
            "daily_minutes_per_user": [1.0],
            "relevance": [1.0],
            "reference_note": [note],
        }
    )


def test_column_definitions_read_the_ddl():
    columns = dict(column_definitions(TABLES["publish.publications"]))
    assert columns["version"] == "version INTEGER NOT NULL"
    assert "PRIMARY" not in columns


def test_a_failed_replacement_leaves_the_month_as_it_was(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    reference = _reference("first")
    warehouse.replace_month(SEPTEMBER, "run-1", {"idx.platform_reference": reference})
    broken = reference.with_columns(pl.lit(None, pl.Float64).alias("relevance"))  # NOT NULL violated
    with pytest.raises(duckdb.Error):
        warehouse.replace_month(SEPTEMBER, "run-2", {"idx.platform_reference": broken})
    kept = warehouse.read_month("idx.platform_reference", SEPTEMBER)
    assert kept["run_id"].to_list() == ["run-1"] and kept["reference_note"].to_list() == ["first"]


def _older_table(tmp_path, table_ddl: str, *statements: str):
    """A warehouse file holding one table as an older version declared it (and what `statements` add)."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE SCHEMA {table_ddl.split('.')[0]}")
        con.execute(f"CREATE TABLE {table_ddl}")
        for statement in statements:
            con.execute(statement)
    return path


def test_new_nullable_columns_are_added_to_an_older_table(tmp_path):
    path = _older_table(
        tmp_path,
        "publish.index (month DATE NOT NULL, version INTEGER NOT NULL, run_id VARCHAR NOT NULL, "
        "city_id VARCHAR NOT NULL, name_en VARCHAR NOT NULL, name_zh VARCHAR NOT NULL, rank INTEGER NOT NULL, "
        "score DOUBLE NOT NULL, quantitative_score DOUBLE NOT NULL, qualitative_score DOUBLE NOT NULL)",
    )
    Warehouse(path).ensure_schema()
    with duckdb.connect(str(path)) as con:
        columns = {row[0] for row in con.sql("DESCRIBE publish.index").fetchall()}
    assert {"rank_p05", "rank_p95", "rank_robust", "facebook_score"} <= columns


def test_an_older_sensitivity_table_takes_the_sobol_rows_and_keeps_its_own(tmp_path):
    path = _older_table(
        tmp_path,
        "idx.uncertainty_sensitivity (month DATE NOT NULL, run_id VARCHAR NOT NULL, "
        "choice VARCHAR NOT NULL, mean_rank_variance_alone DOUBLE NOT NULL, "
        "share_of_total_variance DOUBLE NOT NULL, mean_abs_rank_shift DOUBLE NOT NULL, "
        "methodology_version VARCHAR NOT NULL)",
        "INSERT INTO idx.uncertainty_sensitivity VALUES ('2024-08-01', 'r', 'normalisation', 2, 0.5, 1, '0.4.0')",
    )
    warehouse = Warehouse(path)
    warehouse.ensure_schema()
    sobol = pl.DataFrame(
        {
            "choice": ["normalisation"],
            "first_order": [0.4],
            "total_order": [0.5],
            "methodology_version": ["0.5.0"],
        }
    )
    warehouse.replace_month(SEPTEMBER, "run-2", {"idx.uncertainty_sensitivity": sobol})
    kept = warehouse.read_month("idx.uncertainty_sensitivity", Month(2024, 8)).row(0, named=True)
    new = warehouse.read_month("idx.uncertainty_sensitivity", SEPTEMBER).row(0, named=True)
    assert (kept["share_of_total_variance"], kept["first_order"]) == (0.5, None)
    assert (new["share_of_total_variance"], new["first_order"]) == (None, 0.4)


def test_a_column_a_newer_version_declares_nullable_loses_its_not_null(tmp_path):
    # idx.platform_index's dimension scores were NOT NULL before a missing dimension could be re-weighted
    path = tmp_path / "w.duckdb"
    Warehouse(path).ensure_schema()
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE idx.platform_index ALTER COLUMN utilize_score SET NOT NULL")
    Warehouse(path).ensure_schema()
    with duckdb.connect(str(path)) as con:
        nullable = dict(
            con.sql(
                "SELECT column_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'idx' AND table_name = 'platform_index'"
            ).fetchall()
        )
    assert (nullable["utilize_score"], nullable["score"]) == ("YES", "NO")


def test_a_missing_required_column_is_a_clear_error(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.pull_accounts (month DATE NOT NULL, run_id VARCHAR NOT NULL)")
    with pytest.raises(WarehouseSchemaError, match=r"raw\.pull_accounts lacks the required column 'pull_id'"):
        Warehouse(path).ensure_schema()


HOSTILE = [
    "x'; DROP TABLE raw.documents; --",
    'Xi\'an "quoted" \\ ; --',
    "西安'); DELETE FROM idx.platform_reference; --",
]


def test_names_built_to_break_quoting_are_stored_as_data_and_never_run(tmp_path):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    reference = pl.DataFrame(
        {
            "platform": HOSTILE,
            "monthly_active_users_millions": [1.0] * 3,
            "daily_minutes_per_user": [1.0] * 3,
            "relevance": [1.0] * 3,
            "reference_note": HOSTILE,
        }
    )
    warehouse.replace_month(SEPTEMBER, HOSTILE[0], {"idx.platform_reference": reference})
    one = reference.filter(pl.col("platform") == HOSTILE[1])
    warehouse.replace_month(SEPTEMBER, "run-2", {"idx.platform_reference": one}, platform=HOSTILE[1])

    kept = warehouse.read_month("idx.platform_reference", SEPTEMBER)
    assert sorted(kept["platform"]) == sorted(HOSTILE), "every name came back exactly as given"
    assert sorted(kept["run_id"]) == sorted([HOSTILE[0], HOSTILE[0], "run-2"])
    assert warehouse.latest_pull(SEPTEMBER, HOSTILE[2]) is None
    assert warehouse.table_counts()["raw.documents"] == 0, "the table is still there"


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("raw.documents; DROP TABLE raw.pulls", ("*",)),
        ("clean.posts", ("post_id FROM clean.posts; DROP TABLE raw.pulls; --",)),
        ("clean.posts", ('"post_id"',)),
    ],
)
def test_table_and_column_names_are_checked_before_any_sql(tmp_path, table, columns):
    warehouse = Warehouse(tmp_path / "w.duckdb")
    warehouse.ensure_schema()
    with pytest.raises((KeyError, ValueError)):
        warehouse.read_month(table, SEPTEMBER, columns)
    assert "raw.pulls" in warehouse.table_counts()


def hold_lock(path, seconds: float) -> subprocess.Popen:
    """Another process with the DuckDB file open for `seconds`, as a second writer would."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


HOLD_LOCK = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
    "time.sleep(float(sys.argv[2])); c.close()"
)


def test_a_locked_file_is_waited_for_then_a_clear_error_and_nothing_is_lost(tmp_path, caplog):
    path = tmp_path / "w.duckdb"
    Warehouse(path).ensure_schema()
    holder = hold_lock(path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError, match=rf"PID {holder.pid}.*waited 2 s.*nothing was written"):
            Warehouse(path, lock_timeout_seconds=2).replace_month(SEPTEMBER, "run-1", {})
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert 2 <= waited < 30, "bounded"
    assert any(
        f"PID {holder.pid}" in r.getMessage() and "waiting up to 2 s" in r.getMessage()
        for r in caplog.records
    )
    assert "raw.documents" in Warehouse(path).table_counts(), "the file opens as before"


def test_a_lock_released_in_time_is_waited_for_and_the_write_goes_through(tmp_path, caplog):
    path = tmp_path / "w.duckdb"
    warehouse = Warehouse(path, lock_timeout_seconds=60)
    warehouse.ensure_schema()
    holder = hold_lock(path, 1.5)
    reference = _reference("after the wait")
    warehouse.replace_month(SEPTEMBER, "run-1", {"idx.platform_reference": reference})
    holder.wait()
    assert warehouse.read_month("idx.platform_reference", SEPTEMBER)["reference_note"].to_list() == [
        "after the wait"
    ]
    assert any("lock acquired after" in record.getMessage() for record in caplog.records)


PROBE_LOCK = (
    "import duckdb, sys\n"
    "try:\n    duckdb.connect(sys.argv[1]).close(); print('opened')\n"
    "except duckdb.Error as error:\n    print('locked' if 'Could not set lock' in str(error) else error)"
)


def _other_process_opens(path) -> str:
    return subprocess.run(
        [sys.executable, "-c", PROBE_LOCK, str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_held_warehouse_keeps_its_file_for_the_block_and_each_operation_its_own_transaction(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = Warehouse(path)
    warehouse.ensure_schema()
    reference = _reference("held")
    with warehouse.held():
        assert _other_process_opens(path) == "locked", "the file stays open between operations"
        with warehouse.transaction() as outer:
            outer.execute("CREATE TABLE scratch_of_a_step (x INTEGER)")
            # a second operation inside the first one's transaction: its own connection, its own commit
            warehouse.replace_month(SEPTEMBER, "run-1", {"idx.platform_reference": reference})
            outer.execute("ROLLBACK")
            outer.execute("BEGIN TRANSACTION")
        assert warehouse.read_month("idx.platform_reference", SEPTEMBER)["reference_note"].to_list() == [
            "held"
        ]
        assert "main.scratch_of_a_step" not in warehouse.table_counts()
    assert _other_process_opens(path) == "opened", "released when the block ends"


def test_a_warehouse_already_as_declared_is_only_read_when_its_schema_is_checked(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).ensure_schema()
    with duckdb.connect(str(path), read_only=True) as con:
        create_tables(con, path)  # would fail on a read-only connection if it wrote anything
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE idx.platform_reference DROP COLUMN users_basis")
    with duckdb.connect(str(path), read_only=True) as con, pytest.raises(duckdb.Error, match="read-only"):
        create_tables(con, path)
    Warehouse(path).ensure_schema()
    assert "users_basis" in Warehouse(path).query("SELECT * FROM idx.platform_reference").columns
