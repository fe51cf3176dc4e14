"""How long a run keeps the warehouse file open: by default from its first step that uses it to the
run's end, the schema ensured once; asked to, step by step, so another process gets in between.
Either way the file is free when the run ends, also when a step failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from cityindex_pipeline.defs.resources import WarehouseResource
from cityindex_pipeline.warehouse.store import Warehouse


def another_process_opens(path: Path) -> bool:
    """Whether a process of its own can open the file for writing (DuckDB: not while one holds it)."""
    opened = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}).close()"],
        capture_output=True,
        timeout=120,
    )
    return opened.returncode == 0


def three_steps(path: Path, hold: str, *, fail_last: bool = False) -> tuple[bool, dict]:
    """Three steps one after the other, each using the warehouse; whether another process could open
    the file at the start of the second and third (before they ask for it), and how often the
    schema was ensured."""
    seen: dict = {"free_before": [], "ensured": 0}

    @dg.asset
    def first(warehouse: WarehouseResource) -> None:
        with warehouse.held() as store:
            store.query("SELECT 1")

    @dg.asset(deps=[first])
    def second(warehouse: WarehouseResource) -> None:
        seen["free_before"].append(another_process_opens(path))
        with warehouse.held() as store:
            seen["free_during"] = another_process_opens(path)
            store.query("SELECT 1")

    @dg.asset(deps=[second])
    def third(warehouse: WarehouseResource) -> None:
        seen["free_before"].append(another_process_opens(path))
        with warehouse.held():
            if fail_last:
                raise RuntimeError("this step fails")

    ensure = Warehouse.ensure_schema

    def counted(self: Warehouse) -> None:
        seen["ensured"] += 1
        ensure(self)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(Warehouse, "ensure_schema", counted)
        result = dg.materialize(
            [first, second, third],
            resources={"warehouse": WarehouseResource(path=str(path), hold=hold)},
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    return result.success, seen


def test_a_run_holds_the_file_from_its_first_step_to_its_end_and_ensures_the_schema_once(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    success, seen = three_steps(path, "run")
    assert success
    assert seen["free_before"] == [False, False], "still open between steps"
    assert seen["free_during"] is False
    assert seen["ensured"] == 1
    assert another_process_opens(path), "free once the run ended"


def test_held_step_by_step_each_step_opens_and_closes_the_file(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    success, seen = three_steps(path, "step")
    assert success
    assert seen["free_before"] == [True, True], "another process gets in between steps"
    assert seen["free_during"] is False, "but not during one"
    assert seen["ensured"] == 3
    assert another_process_opens(path)


def test_a_run_whose_step_fails_leaves_the_file_free(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    success, _ = three_steps(path, "run", fail_last=True)
    assert not success
    assert another_process_opens(path)


def test_the_monthly_job_s_resources_hold_the_file_for_the_run(tmp_path):
    from cityindex_pipeline.defs.resources import resources_for
    from tests.support.runs import make_settings

    assert resources_for(make_settings(tmp_path))["warehouse"].hold == "run"
