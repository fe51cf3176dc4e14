"""The gate as a data engineer meets it on the command line: a corrupted drop stops with what to fix;
an override publishes it and is recorded; `verify` checks what was published."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from support.landing_helpers import lay_out_month

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.warehouse.store import Warehouse

CLI = shutil.which("cityindex", path=str(Path(sys.executable).parent)) or "cityindex"
SEPTEMBER = Month(2024, 9)


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CITYINDEX_HOME": str(home),
        "CITYINDEX_SOURCE": "files",
        "CITYINDEX_FIRST_MONTH": "2024-09",
    }
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def test_a_drop_missing_an_account_or_a_page_stops_at_the_gate_until_overridden(tmp_path):
    registry = load_registry()
    lay_out_month(tmp_path / "landing", SEPTEMBER)
    missing = registry.accounts_for("x")[3].account_handle
    shutil.rmtree(tmp_path / "landing" / "x" / "2024-09" / missing)
    paged = min((tmp_path / "landing" / "facebook" / "2024-09").glob("*/posts-3.json")).parent
    (paged / "posts-2.json").unlink()  # page 1's `next` points to it

    stopped = run(tmp_path, "materialize", "--month", "2024-09")
    assert stopped.returncode != 0
    assert "✗ check raw_x:accounts_covered (severity ERROR)" in stopped.stdout
    assert f'"account_handle": "{missing}"' in stopped.stdout, "the failing account is named"
    assert "fix: deliver these accounts' documents" in stopped.stdout
    assert "✗ check raw_facebook:drop_complete (severity ERROR)" in stopped.stdout
    gap = f'"account_handle": "{paged.name}", "endpoint": "posts", "missing": "posts page 2 (paging.next of page 1)"'
    assert gap in stopped.stdout, "the account and the page missing are named"
    assert "2024-09 was not published" in stopped.stdout and "--override-errors" in stopped.stdout
    assert Warehouse(tmp_path / "warehouse.duckdb").publications(SEPTEMBER).height == 0

    reason = f"{missing} suspended by X; approved by the editor"
    overridden = run(tmp_path, "materialize", "--month", "2024-09", "--override-errors", reason)
    assert overridden.returncode == 0, overridden.stdout + overridden.stderr
    assert "published: v1" in overridden.stdout
    printed = " ".join(overridden.stdout.split())
    label = "published over failed ERROR checks (override):"
    assert label in printed, "the summary names the checks published over, apart from the warnings"
    published_over = printed.split(label, 1)[1].split("warnings (not blocking):")[0]
    assert "raw_x:accounts_covered" in published_over and "raw_facebook:drop_complete" in published_over
    warned = printed.split(label, 1)[1].partition("warnings (not blocking):")[2]
    assert "raw_x:accounts_covered" not in warned, "an overridden ERROR check is not a warning"
    record = Warehouse(tmp_path / "warehouse.duckdb").publications(SEPTEMBER).row(0, named=True)
    assert record["override_reason"] == reason
    assert "raw_x:accounts_covered" in record["overridden_checks"]
    assert "raw_facebook:drop_complete" in record["overridden_checks"]
    exported = json.loads(
        (tmp_path / "exports" / "2024-09" / "v1" / "publication.json").read_text(encoding="utf-8")
    )
    assert exported["override_reason"] == reason

    verified = run(tmp_path, "verify", "--month", "2024-09")
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout + verified.stderr
    assert "match: content sha256" in verified.stdout, "recomputed from the recorded inputs, too"
    (tmp_path / "exports" / "2024-09" / "v1" / "index.json").chmod(0o644)
    (tmp_path / "exports" / "2024-09" / "v1" / "index.json").write_text("[]", encoding="utf-8")
    tampered = run(tmp_path, "verify", "--month", "2024-09")
    assert tampered.returncode != 0 and "index.json: sha256 differs from the manifest" in tampered.stdout
