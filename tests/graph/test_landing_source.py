"""CITYINDEX_SOURCE=files: a landing drop through the graph, and the sensor that launches it; a
hostile vendor's drop (links to a secret outside the landing folder, pipes, names outside the layout,
texts and permalinks built to break the report and the terminal) through the graph, the report and
the CLI."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from support.landing_helpers import lay_out_month, write_landing
from support.runs import in_memory_instance, make_settings, materialize

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.render import link_url, visible
from cityindex_pipeline.defs.resources import SourceResource
from cityindex_pipeline.defs.sensors import landing_drop_sensor
from cityindex_pipeline.method.panel import panel_path
from cityindex_pipeline.parsing.document import MAX_PAGE
from cityindex_pipeline.quality.settling import BEIJING
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.report.build import build_report
from cityindex_pipeline.sources.landing import COMPLETE_MARKER
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.warehouse.store import Warehouse

SEPTEMBER = Month(2024, 9)
LINEAGE = ("run_id", "pull_id", "fetched_at", "location")  # where and when, not what
CLI = shutil.which("cityindex", path=str(Path(sys.executable).parent)) or "cityindex"
SENTINEL = "sentinel-secret-Vb93kR"
TEXT = "<script>alert(1)</script></script> {{ 7*7 }} [/] [bold red]loud | two\nlines \x1b]0;title\x07 \x9b2J"
PERMALINKS = [
    "javascript:alert(1)",
    "http://example.com/plain-http",
    "data:text/html,<script>alert(2)</script>",
    "https://example.com/\x1b]0;title\x07",
    "https://www.facebook.com/ok/[/]/[bold red]",
]
ESCAPES = ("\x1b", "\x9b", "\x07")
"""What must never reach a terminal or a page raw: ESC, CSI, BEL."""


def clean_content(warehouse: Warehouse, table: str) -> pl.DataFrame:
    frame = warehouse.read_month(table, SEPTEMBER).drop(*LINEAGE, strict=False)
    return frame.sort(frame.columns)


def test_files_source_gives_the_same_clean_tables_as_the_documents_it_holds(tmp_path):
    simulated = make_settings(tmp_path / "simulated")
    files = dataclasses.replace(make_settings(tmp_path / "files"), source="files")
    lay_out_month(files.landing_dir, SEPTEMBER)
    with in_memory_instance() as instance:
        assert materialize(simulated, SEPTEMBER, instance=instance).success
        result = materialize(files, SEPTEMBER, instance=instance)
        assert result.success
    expected, actual = Warehouse(simulated.warehouse_path), Warehouse(files.warehouse_path)
    for table in ("clean.posts", "clean.account_metrics", "clean.quarantine", "idx.comprehensive_index"):
        assert clean_content(actual, table).equals(clean_content(expected, table)), table
    sources = actual.read_month("raw.documents", SEPTEMBER)["source"].unique().to_list()
    assert sources == ["files"]


def test_a_bad_file_is_reported_in_metadata_and_kept_while_the_month_goes_on(hostile_drop):
    result = hostile_drop["result"]
    assert result.success
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "raw_instagram"
    ]
    handle = hostile_drop["instagram_handle"]
    metadata = event.materialization.metadata
    assert metadata["problems"].value == 1
    assert metadata["problem_files"].value[0]["location"].endswith(f"{handle}/stories.json")
    kept = Warehouse(hostile_drop["settings"].warehouse_path).read_month("raw.source_problems", SEPTEMBER)
    kept = kept.filter(platform="instagram")
    assert kept["reason"].to_list() == ["unknown endpoint 'stories' (known: user, media, media_insights)"]
    assert kept["content"].to_list() == [b"{}"]


def test_an_incomplete_drop_fails_the_raw_asset_and_nothing_is_published(tmp_path):
    files = dataclasses.replace(make_settings(tmp_path), source="files")
    lay_out_month(files.landing_dir, SEPTEMBER)
    (files.landing_dir / "youtube" / "2024-09" / COMPLETE_MARKER).unlink()
    with in_memory_instance() as instance:
        result = materialize(files, SEPTEMBER, instance=instance)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "raw_youtube"
    assert "_COMPLETE is missing" in failure.event_specific_data.error.cause.message
    assert Warehouse(files.warehouse_path).publications(SEPTEMBER).height == 0


def test_the_sensor_launches_each_complete_drop_once(tmp_path):
    this_month = Month.of(datetime.now(BEIJING).date())
    files = dataclasses.replace(make_settings(tmp_path), source="files")
    source = SourceResource(kind="files", landing_dir=str(files.landing_dir))
    registry = load_registry()
    for platform in PLATFORMS:
        write_landing(
            files.landing_dir,
            SimulatedSource().pull(SEPTEMBER, platform, registry.accounts_for(platform)[:2]),
        )
        # a month still open (always unsettled) and one before the first month: no partitions yet
        for early in (this_month, Month(2024, 6)):
            write_landing(
                files.landing_dir,
                SimulatedSource().pull(early, platform, registry.accounts_for(platform)[:1]),
            )
    with in_memory_instance() as instance:
        first = landing_drop_sensor(dg.build_sensor_context(instance=instance, resources={"source": source}))
        (request,) = first.run_requests
        assert request.partition_key == "2024-09-01", "only the drop of a month that is a partition runs"
        again = landing_drop_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"source": source})
        )
        assert isinstance(again, dg.SkipReason), "the same drop is not launched twice"
        assert f"complete drops of 2024-06, {this_month} wait: not yet partitions" in again.skip_message
        assert set(json.loads(first.cursor)) == {"2024-09"}, "a waiting drop is not marked seen"
        (files.landing_dir / "x" / "2024-09" / COMPLETE_MARKER).write_text("redelivered", encoding="utf-8")
        redrop = landing_drop_sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"source": source})
        )
        (rerun,) = redrop.run_requests
        assert rerun.partition_key == "2024-09-01" and rerun.run_key != request.run_key
        assert json.loads(redrop.cursor)["2024-09"] != json.loads(first.cursor)["2024-09"]
    simulated = SourceResource(kind="simulated")
    with in_memory_instance() as instance:
        skipped = landing_drop_sensor(
            dg.build_sensor_context(instance=instance, resources={"source": simulated})
        )
    assert isinstance(skipped, dg.SkipReason)


def test_a_month_without_a_panel_file_carries_the_last_one_forward_flagged(tmp_path):
    august = Month(2024, 8)
    files = dataclasses.replace(make_settings(tmp_path, first_month=august), source="files")
    lay_out_month(files.landing_dir, august)
    lay_out_month(files.landing_dir, SEPTEMBER)
    panel_path(files.landing_dir, SEPTEMBER).unlink()  # September's panel has not come in
    with in_memory_instance() as instance:
        assert materialize(files, august, instance=instance).success
        assert materialize(files, SEPTEMBER, instance=instance).success
    warehouse = Warehouse(files.warehouse_path)
    given, carried = (warehouse.read_month("idx.qualitative_scores", m) for m in (august, SEPTEMBER))
    assert given["carried_from"].null_count() == given.height
    assert set(carried["carried_from"]) == {august.first_day}, "flagged with the month the scores were given"
    assert (
        carried.drop("month", "run_id", "carried_from")
        .sort(["city_id", "rater", "criterion"])
        .equals(given.drop("month", "run_id", "carried_from").sort(["city_id", "rater", "criterion"]))
    )


def _hostile_texts(path: Path, text_field: str, link_field: str, links) -> None:
    """Every post of the page gets the hostile text before its own, and the next hostile permalink."""
    body = json.loads(path.read_text(encoding="utf-8"))
    for record in body.get("data", []):
        record[text_field] = f"{TEXT} {record.get(text_field) or ''}"
        record[link_field] = next(links)
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def hostile_drop(tmp_path_factory) -> dict:
    """September's drop materialised once (without the report), its Dagster storage under
    CITYINDEX_HOME: an unknown instagram endpoint; in a facebook account's folder links to a secret
    file and folder outside the landing folder and to the process's environment, a named pipe, names
    outside the layout and a hidden file; at the facebook month's level an account folder that is a
    link and a pipe; every facebook and instagram post with a hostile text and permalink."""
    root = tmp_path_factory.mktemp("hostile")
    files = dataclasses.replace(make_settings(root / "home"), source="files")
    outside = root / "outside"
    (outside / "folder").mkdir(parents=True)
    for secret in (outside / "secret.json", outside / "folder" / "posts.json"):
        secret.write_text(f'{{"data": [], "token": "{SENTINEL}"}}', encoding="utf-8")
    landing = files.landing_dir
    lay_out_month(landing, SEPTEMBER)
    registry = load_registry()
    instagram = registry.accounts_for("instagram")[0].account_handle
    (landing / "instagram" / "2024-09" / instagram / "stories.json").write_text("{}", encoding="utf-8")
    links = itertools.cycle(PERMALINKS)
    for path in sorted((landing / "facebook" / "2024-09").glob("*/posts*.json")):
        _hostile_texts(path, "message", "permalink_url", links)
    for path in sorted((landing / "instagram" / "2024-09").glob("*/media*.json")):
        _hostile_texts(path, "caption", "permalink", links)

    account = registry.accounts_for("facebook")[0]
    folder = landing / "facebook" / "2024-09" / account.account_handle
    (folder / "posts-91.json").symlink_to(outside / "secret.json")
    (folder / "more").symlink_to(outside / "folder", target_is_directory=True)
    (folder / "page-92.json").symlink_to("/proc/self/environ")
    os.mkfifo(folder / "posts-93.json")
    for name in ("posts.JSON", "Posts.json", "posts-0.json", "posts-01.json", "posts-4294967297.json",
                 "reels.json", "p\u043ests.json", ".DS_Store"):  # fmt: skip
        (folder / name).write_text('{"data": []}', encoding="utf-8")
    for raw in (b"posts-\xff.json", b"posts\x1b]0;title\x07.json"):
        with open(os.path.join(os.fsencode(folder), raw), "wb") as file:
            file.write(b'{"data": []}')
    (landing / "facebook" / "2024-09" / "StrangerPage").symlink_to(outside / "folder")
    os.mkfifo(landing / "facebook" / "2024-09" / "pipe")
    files.dagster_home.mkdir(parents=True)
    with dg.instance_for_test(temp_dir=str(files.dagster_home)) as instance:
        result = materialize(files, SEPTEMBER, instance=instance)
    return {
        "settings": files,
        "result": result,
        "account": account,
        "instagram_handle": instagram,
        "documents": len(list(SimulatedSource().pull(SEPTEMBER, "facebook", [account]))),
    }


def test_a_hostile_drop_is_published_from_its_good_files(hostile_drop):
    assert hostile_drop["result"].success
    warehouse = Warehouse(hostile_drop["settings"].warehouse_path)
    assert warehouse.publications(SEPTEMBER).height == 1
    documents = warehouse.raw_documents(SEPTEMBER, "facebook")
    handle = hostile_drop["account"].account_handle
    assert documents.filter(account_handle=handle).height == hostile_drop["documents"], (
        "its good files are read"
    )


def test_every_hostile_entry_is_a_problem_named_by_its_path(hostile_drop):
    warehouse = Warehouse(hostile_drop["settings"].warehouse_path)
    pull = warehouse.latest_pull(SEPTEMBER, "facebook")
    stored = warehouse.source_problems(str(pull["pull_id"]))
    problems = dict(stored.select("location", "reason").iter_rows())
    where = f"landing://facebook/2024-09/{hostile_drop['account'].account_handle}"
    expected = {
        f"{where}/posts-91.json": "a symbolic link, not a regular file: not read",
        f"{where}/more": "a symbolic link, not a regular file: not read",
        f"{where}/page-92.json": "a symbolic link, not a regular file: not read",
        f"{where}/posts-93.json": "a named pipe (FIFO), not a regular file: not read",
        f"{where}/.DS_Store": "a hidden entry (its name starts with a dot): not read",
        "landing://facebook/2024-09/StrangerPage": "a symbolic link, not an account folder: not read",
        "landing://facebook/2024-09/pipe": "a named pipe (FIFO), not an account folder: not read",
        f"{where}/posts-4294967297.json": f"page 4294967297 out of range: a page is numbered from 1 to {MAX_PAGE:,}",
        f"{where}/reels.json": "unknown endpoint 'reels' (known: page, posts, post_insights)",
    }
    assert {location: problems.get(location) for location in expected} == expected
    for name in ("posts.JSON", "Posts.json", "posts-0.json", "posts-01.json", "p\u043ests.json",
                 "posts-\\xff.json", "posts\\x1b]0;title\\x07.json"):  # fmt: skip
        assert problems[f"{where}/{name}"].startswith("not a `<endpoint>[-<page>].json` file"), name
    not_read = stored.filter(pl.col("reason").str.ends_with("not read"))
    assert not_read.height >= 7 and set(not_read["content"].to_list()) == {b""}, "no content of theirs"


def test_the_secret_is_nowhere_under_cityindex_home(hostile_drop):
    home = hostile_drop["settings"].home
    assert any(hostile_drop["settings"].dagster_home.rglob("*.db")), "Dagster's storage is under the home"
    holders = []
    for folder, _subfolders, names in os.walk(home):  # links are neither followed nor opened
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink() and SENTINEL.encode() in path.read_bytes():
                holders.append(str(path.relative_to(home)))
    assert holders == []


class _Page(HTMLParser):
    """What a browser would run or follow: scripts, event handlers, links."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.handlers: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(str(attrs))
        for name, value in attrs:
            if name in ("href", "src", "xlink:href", "action", "formaction"):
                self.hrefs.append(value or "")
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")

    def handle_data(self, data):
        self.text.append(data)


def test_the_report_of_a_hostile_drop_holds_no_script_and_no_link_that_is_not_https(hostile_drop):
    settings = hostile_drop["settings"]
    built = build_report(Warehouse(settings.warehouse_path), settings.reports_dir, SEPTEMBER)
    html = built.html.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    assert page.scripts == [] and page.handlers == []
    assert page.hrefs and all(link_url(href) == href for href in page.hrefs), page.hrefs
    shown = "".join(page.text)
    assert "<script>alert(1)</script></script> {{ 7*7 }} [/] [bold red]loud" in shown, "the excerpt, as text"
    as_text = [p for p in PERMALINKS if link_url(p) is None and visible(p) in shown]
    assert as_text and not set(as_text) & set(page.hrefs), "a permalink that is not https is shown as text"
    assert not any(c in html for c in ESCAPES)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CITYINDEX_HOME": str(home),
        "CITYINDEX_SOURCE": "files",
        "CITYINDEX_FIRST_MONTH": "2024-09",
    }
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def test_top_and_trace_print_a_hostile_drops_text_as_text(hostile_drop):
    home = hostile_drop["settings"].home
    leader = Warehouse(hostile_drop["settings"].warehouse_path).query(
        "SELECT c.name_en FROM idx.platform_index i JOIN clean.registry_cities c USING (month, city_id) "
        "WHERE i.month = $month AND i.platform = 'facebook' ORDER BY i.rank LIMIT 1",
        {"month": SEPTEMBER.first_day},
    )["name_en"][0]
    top = _cli(home, "top", "--month", "2024-09", "--platform", "facebook")
    assert top.returncode == 0 and leader in top.stdout, top.stderr
    traced = _cli(home, "trace", "--city", leader, "--month", "2024-09", "--platform", "facebook")
    assert traced.returncode == 0, traced.stderr
    assert "levels reconcile to 1e-9" in traced.stdout
    assert [p for p in PERMALINKS if visible(p) in traced.stdout], "the posts' permalinks, printed as text"
    as_json = _cli(home, "trace", "--city", leader, "--month", "2024-09", "--platform", "facebook", "--json")
    assert as_json.returncode == 0, as_json.stderr
    posts = [
        post
        for entry in json.loads(as_json.stdout)["platforms"]
        for account in entry.get("accounts", [])
        for post in account["posts_traced"]
    ]
    assert posts and {post["permalink"] for post in posts} <= set(PERMALINKS), "JSON keeps the text exactly"
    for done in (top, traced, as_json):
        assert not any(c in done.stdout + done.stderr for c in ESCAPES)
