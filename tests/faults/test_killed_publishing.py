"""A publication killed with SIGKILL after each of its steps: the next one heals what was left, with no
hand fix, v1 byte for byte as it was, no folder without its row and no row without its folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.publication_helpers import SEPTEMBER, assert_whole, files_of, provenance, rows

from cityindex_pipeline.publication import publish as pub
from cityindex_pipeline.warehouse.archive import versions_in
from cityindex_pipeline.warehouse.store import Warehouse

PUBLISH_ONCE = Path(__file__).with_name("publish_once.py")
TESTS = Path(__file__).parents[1]


def publish_once(home: Path, score: float, kill_at: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(PUBLISH_ONCE.parent)]),
        "KILL_AT": kill_at,
    }
    return subprocess.run(
        [sys.executable, str(PUBLISH_ONCE), str(home), str(score)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def with_v1(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    home = tmp_path_factory.mktemp("published")
    warehouse = Warehouse(home / "warehouse.duckdb")
    warehouse.ensure_schema()
    pub.publish_month(
        warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=home / "exports"
    )
    return home, files_of(home / "exports") | files_of(warehouse.archive.root)


LEFT_BEHIND = {
    # step killed after: (v2 committed, v2 placed in the archive, v2 exported)
    "stage_export": (False, False, False),
    "stage_archive": (False, False, False),
    "commit": (True, False, False),
    "place_archive": (True, True, False),
    "place_export": (True, True, True),
}


@pytest.mark.parametrize("step", pub.PUBLISH_STEPS)
def test_a_publication_killed_after_each_step_is_healed_by_the_next(with_v1, tmp_path, step):
    base, v1_files = with_v1
    home = tmp_path / "home"
    shutil.copytree(base, home)

    crash = publish_once(home, 85.0, kill_at=f"publish:{step}")

    assert crash.returncode == -signal.SIGKILL, crash.stdout + crash.stderr
    warehouse = Warehouse(home / "warehouse.duckdb")
    committed = warehouse.publications(SEPTEMBER).height == 2
    in_archive = 2 in versions_in(warehouse.archive.publication_folder(SEPTEMBER))[0]
    exported = (home / "exports" / "2024-09" / "v2").exists()
    assert (committed, in_archive, exported) == LEFT_BEHIND[step]

    rerun = pub.publish_month(  # the next publication, in this process: nothing is fixed by hand
        warehouse,
        SEPTEMBER,
        "run-85.0",
        rows(85.0),
        provenance=provenance("inputs-85.0"),
        exports_dir=home / "exports",
    )

    assert rerun.version == 2 and rerun.created == (not committed), (
        "a committed v2 is healed, not published twice"
    )
    assert_whole(warehouse, home / "exports")
    now = files_of(home / "exports") | files_of(warehouse.archive.root)
    assert {path: now[path] for path in v1_files} == v1_files, "v1's export and archive copy byte for byte"
