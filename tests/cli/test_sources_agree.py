"""The two real sources agree: a landing folder read as files, and the same documents served by the
platforms' APIs (a local stand-in on 127.0.0.1), give the same clean tables through
`cityindex materialize`.

The landing folder is the simulated month with four accounts replaced by hand-laid documents in the
shape of real responses (`tests/data/hand-laid`): withheld counts, an empty page that still has a
`next`, a post just before the month in Beijing time, a private video, insights in both envelopes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from support.landing_helpers import lay_out_month
from support.platform_stand_in import PlatformStandIn

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.variables import BASE_URL_VARIABLES
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.api import TOKEN_VARIABLES
from cityindex_pipeline.warehouse.store import Warehouse

CLI = shutil.which("cityindex", path=str(Path(sys.executable).parent)) or "cityindex"
HAND_LAID = Path(__file__).parents[1] / "data" / "hand-laid"
SEPTEMBER = Month(2024, 9)
TOKEN = "sentinel-token-Zq81vX"
HAND_LAID_ACCOUNTS = {"VisitNanjing", "nanjingtravel", "NanjingRelease", "NanjingTV"}
PROVENANCE = ("run_id", "pull_id", "fetched_at", "location")
"""When, by which run and from where (a file or a URL): these differ between two pulls by design."""
GRAPH_BODY_DIGESTS = ("source_sha256", "insights_sha256", "profile_sha256")
"""Graph bodies served live carry `next` URLs on the server's own host: their digests differ."""


def materialize(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in TOKEN_VARIABLES.values() and key != "DAGSTER_HOME"
    }
    environ |= {"CITYINDEX_HOME": str(home), "CITYINDEX_FIRST_MONTH": str(SEPTEMBER), **env}
    return subprocess.run(
        [CLI, "materialize", "--month", str(SEPTEMBER)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )


def table(home: Path, name: str, platform: str | None = None) -> pl.DataFrame:
    frame = (
        Warehouse(home / "warehouse.duckdb").query(f"SELECT * FROM {name}").drop(*PROVENANCE, strict=False)
    )
    if platform is not None:
        frame = frame.filter(pl.col("platform") == platform)
    return frame.sort(frame.columns)


@pytest.fixture(scope="module")
def homes(tmp_path_factory) -> tuple[Path, Path, PlatformStandIn]:
    files_home, api_home = tmp_path_factory.mktemp("files"), tmp_path_factory.mktemp("api")
    lay_out_month(files_home / "landing", SEPTEMBER, overlay=HAND_LAID)
    files = materialize(files_home, CITYINDEX_SOURCE="files")
    assert files.returncode == 0, files.stdout + files.stderr

    # the expert panel's file comes from the landing folder whatever the platforms' source
    shutil.copytree(files_home / "landing" / "qualitative", api_home / "landing" / "qualitative")
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        x_user = load_registry().accounts_for("x")[0].platform_account_id
        youtube = "/youtube/v3/channels"
        faults = {f"/2/users/{x_user}/tweets": [429, 500], youtube: [503]}
        stand_in = PlatformStandIn(
            server, files_home / "landing", SEPTEMBER, load_registry(), TOKEN, faults=faults
        ).install()
        api = materialize(
            api_home,
            CITYINDEX_SOURCE="api",
            **dict.fromkeys(TOKEN_VARIABLES.values(), TOKEN),
            **dict.fromkeys(BASE_URL_VARIABLES.values(), stand_in.base),
        )
    finally:
        server.clear()
        server.stop()
    assert api.returncode == 0, (api.stdout + api.stderr)[-5000:]
    assert not any(stand_in.faults.values()), "every injected fault was met, and the pull got past it"
    (api_home / "cli-output.txt").write_text(api.stdout + api.stderr, encoding="utf-8")
    return files_home, api_home, stand_in


@pytest.mark.parametrize("name", ["clean.posts", "clean.account_metrics", "clean.quarantine"])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_files_and_api_give_the_same_clean_tables(homes, name, platform):
    files_home, api_home, _ = homes
    from_files, from_api = table(files_home, name, platform), table(api_home, name, platform)
    if platform in ("facebook", "instagram"):
        from_files = from_files.drop(*GRAPH_BODY_DIGESTS, strict=False)
        from_api = from_api.drop(*GRAPH_BODY_DIGESTS, strict=False)
    assert from_api.height == from_files.height
    assert from_api.equals(from_files)


def test_both_publish_the_same_index(homes):
    files_home, api_home, _ = homes
    published = ("city_id", "rank", "score")
    assert (
        table(api_home, "publish.index")
        .select(published)
        .equals(table(files_home, "publish.index").select(published))
    )


def test_the_hand_laid_documents_reach_the_clean_tables_as_given(homes):
    _, api_home, _ = homes
    posts = table(api_home, "clean.posts").filter(pl.col("account_handle").is_in(HAND_LAID_ACCOUNTS))
    by_id = {row["post_id"]: row for row in posts.iter_rows(named=True)}
    assert len(by_id) == 3 + 3 + 3 + 3, "three in-month items per account; the August ones stay out"
    assert by_id["100022121781323_1092837465019101"]["shares"] is None, "never shared: not given, not 0"
    assert by_id["100022121781323_1092837465018777"]["shares"] == 30, "after the empty page with `next`"
    assert by_id["18044411223300101"]["likes"] is None, "hidden likes on a reel"
    assert by_id["18044411223300102"]["exposures"] == 31020, "insights in the total_value envelope"
    assert by_id["nJtv0000003"]["likes"] is None and by_id["nJtv0000001"]["duration_seconds"] == 3840
    assert by_id["1836002233445566772"]["views"] is None, "no impression_count in the capture"
    quarantined = table(api_home, "clean.quarantine")
    assert "100022121781323_1092837465018700" in quarantined["record_id"].to_list(), (
        "23:59 on 31 August in Beijing is August: kept aside with its reason"
    )


def test_the_api_run_stored_no_token_and_recovered_from_the_retired_metrics(homes):
    _, api_home, stand_in = homes
    documents = table(api_home, "raw.documents")
    assert documents["source"].unique().to_list() == ["api"]
    assert not documents.filter(
        pl.col("body").str.contains(TOKEN, literal=True)
        | pl.col("request_url").str.contains(TOKEN, literal=True)
    ).height
    assert documents.filter(pl.col("request_url").str.contains("access_token=", literal=True)).is_empty()
    facebook = documents.filter(pl.col("platform") == "facebook", pl.col("endpoint") == "post_insights")
    assert facebook["request_url"].str.contains("post_impressions", literal=True).all(), (
        "the stand-in refused post_media_view for these 2024 answers; the client fell back and kept the legacy set"
    )
    assert stand_in.requests > documents.height, "the refused insights requests were made too"


def test_the_token_is_nowhere_the_api_run_wrote(homes):
    """Not in any file under CITYINDEX_HOME (the DuckDB file, Dagster's event log and run storage,
    logs, the CLI's output), nor in any text of any table, even after a 429 and a 500 that echoed it."""
    _, api_home, _ = homes
    written = [path for path in api_home.rglob("*") if path.is_file()]
    assert any(path.name == "warehouse.duckdb" for path in written)
    assert any("storage" in path.parts for path in written), "the Dagster instance's files are searched too"
    for path in written:
        assert TOKEN.encode() not in path.read_bytes(), path
    archived = [path for path in written if path.relative_to(api_home).parts[0] == "archive"]
    assert any("objects" in path.parts for path in archived), "the archive is searched too, decompressed"
    for path in archived:  # zstd-compressed Parquet: the bytes on disk would not show the token
        frame = pl.read_parquet(path)
        for column in (name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Binary)):
            assert not frame[column].cast(pl.Binary).bin.contains(TOKEN.encode()).any(), (path, column)
    warehouse = Warehouse(api_home / "warehouse.duckdb")
    columns = warehouse.query(
        "SELECT table_schema || '.' || table_name AS name, column_name FROM information_schema.columns "
        "WHERE data_type IN ('VARCHAR', 'BLOB') OR data_type LIKE 'VARCHAR%'"
    )
    for name, column in columns.iter_rows():
        hits = warehouse.query(
            f'SELECT count(*) AS n FROM {name} WHERE contains(CAST("{column}" AS VARCHAR), $token)',
            {"token": TOKEN},
        )
        assert hits["n"][0] == 0, (name, column)
