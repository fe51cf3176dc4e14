"""The read-only server of the reports and exports that `cityindex dev` starts beside the UI: it shows
the two folders and nothing else of the home, and ends with the process that started it."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cityindex_pipeline.cli.file_server import file_server
from cityindex_pipeline.core.variables import files_url_from_env
from cityindex_pipeline.defs.resources import PublicationResource, ReportsResource


@pytest.fixture
def served(tmp_path):
    """A home with a report, an export, a report being written (hidden), the warehouse, a secret and
    links out of the served folders; served on a free port."""
    home = tmp_path / "home"
    report = home / "reports" / "2024-09" / "v1"
    report.mkdir(parents=True)
    (report / "report.html").write_text("<h1>September</h1>", encoding="utf-8")
    (home / "reports" / "2024-10" / ".v1.123.456").mkdir(parents=True)
    (home / "reports" / "2024-10" / ".v1.123.456" / "report.html").write_text("half written")
    export = home / "exports" / "2024-09" / "v1"
    export.mkdir(parents=True)
    (export / "index.csv").write_text("city_id,score\nC001,80.5\n")
    (home / "warehouse.duckdb").write_bytes(b"DUCK")
    (tmp_path / "secret.txt").write_text("token")
    (home / "reports" / "leak").symlink_to(tmp_path / "secret.txt")
    (home / "exports" / "warehouse").symlink_to(home / "warehouse.duckdb")
    server = file_server(home, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", home
    server.shutdown()
    server.server_close()


def _raw_get(url: str, path: str) -> int:
    """The status of a GET of `path` exactly as written (an HTTP client would normalise `..`)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path)
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_reports_and_exports_are_served_and_listed(served):
    url, _ = served
    assert httpx.get(f"{url}/reports/2024-09/v1/report.html").text == "<h1>September</h1>"
    assert httpx.get(f"{url}/exports/2024-09/v1/index.csv").text.startswith("city_id,score")
    root = httpx.get(f"{url}/").text
    assert 'href="/reports/"' in root and 'href="/exports/"' in root and "warehouse" not in root
    listing = httpx.get(f"{url}/reports/2024-10/").text
    assert ".v1" not in listing, "a report being written is not shown"
    assert httpx.get(f"{url}/reports/2024-09", follow_redirects=False).status_code == 301


@pytest.mark.parametrize(
    "path",
    [
        "/warehouse.duckdb",
        "/reports/../warehouse.duckdb",
        "/reports/%2e%2e/warehouse.duckdb",
        "/reports/2024-10/.v1.123.456/report.html",
        "/reports/leak",
        "/exports/warehouse",
        "/archive/",
        "/dagster/dagster.yaml",
    ],
)
def test_nothing_else_of_the_home_is_served(served, path):
    url, _ = served
    assert _raw_get(url, path) == 404


def test_the_server_only_reads(served):
    url, home = served
    for method in ("PUT", "POST", "DELETE"):
        assert httpx.request(method, f"{url}/reports/2024-09/v1/report.html", content=b"x").status_code == 501
    assert (home / "reports" / "2024-09" / "v1" / "report.html").read_text() == "<h1>September</h1>"


def test_the_server_ends_with_the_process_that_started_it(tmp_path):
    starter = (
        "import subprocess, sys\n"
        "server = subprocess.Popen([sys.executable, '-m', 'cityindex_pipeline.cli.file_server', sys.argv[1], '0'],"
        " stdout=subprocess.PIPE, text=True)\n"
        "print(server.pid, server.stdout.readline().strip(), flush=True)\n"
    )
    started = subprocess.run(
        [sys.executable, "-c", starter, str(tmp_path)], capture_output=True, text=True, check=True, timeout=60
    )
    pid, url = started.stdout.split()
    assert url.startswith("http://127.0.0.1:")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
        except httpx.TransportError:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the file server {pid} still answers after its parent ended")


def test_the_assets_link_their_files_on_the_server(tmp_path):
    reports = ReportsResource(directory=str(tmp_path / "reports"), files_url="http://127.0.0.1:3001")
    (tmp_path / "reports" / "2024-09" / "v1").mkdir(parents=True)
    assert reports.url_of(tmp_path / "reports" / "2024-09" / "v1" / "report.html") == (
        "http://127.0.0.1:3001/reports/2024-09/v1/report.html"
    )
    exports = PublicationResource(exports_dir=str(tmp_path / "exports"), files_url="http://127.0.0.1:3001")
    (tmp_path / "exports" / "2024-09" / "v2").mkdir(parents=True)
    assert (
        exports.url_of(tmp_path / "exports" / "2024-09" / "v2") == "http://127.0.0.1:3001/exports/2024-09/v2/"
    )
    assert ReportsResource(directory=str(tmp_path / "reports")).url_of(tmp_path / "reports") is None


def test_the_files_url_is_an_http_address():
    assert files_url_from_env({"CITYINDEX_FILES_URL": "http://127.0.0.1:3001/"}) == "http://127.0.0.1:3001"
    assert files_url_from_env({}) is None
    for wrong in ("127.0.0.1:3001", "file:///etc", "http://h/?q=1"):
        with pytest.raises(ValueError, match="CITYINDEX_FILES_URL must be an http"):
            files_url_from_env({"CITYINDEX_FILES_URL": wrong})


def test_dev_refuses_a_files_port_in_use_before_it_starts_the_ui(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [str(Path(sys.executable).with_name("cityindex")), "dev", "--files-port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            env={
                **os.environ,
                "CITYINDEX_HOME": str(tmp_path / "home"),
                "DAGSTER_HOME": str(tmp_path / "dg"),
            },
        )
    assert finished.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in finished.stderr
    assert "choose another port with --files-port" in finished.stderr and "Traceback" not in finished.stderr
