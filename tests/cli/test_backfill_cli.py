"""`cityindex backfill` as a user meets it without a server (the run itself: tests/system)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

CLI = shutil.which("cityindex", path=str(Path(sys.executable).parent)) or "cityindex"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITYINDEX_HOME": str(home), "CITYINDEX_FIRST_MONTH": "2024-01"}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def test_without_a_webserver_it_says_how_to_start_one(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    done = run(
        tmp_path, "backfill", "--from", "2024-01", "--to", "2024-03", "--url", f"http://127.0.0.1:{port}"
    )
    assert done.returncode == 1
    assert "no Dagster webserver at" in done.stderr and "cityindex dev" in done.stderr


def test_a_range_that_runs_backwards_is_refused(tmp_path):
    done = run(tmp_path, "backfill", "--from", "2024-03", "--to", "2024-01")
    assert done.returncode == 2
    assert "2024-01 is before 2024-03" in done.stderr
