"""Containment of the landing folder: only regular files with a name of the layout, inside the root,
are read. Each hostile entry a careless or hostile vendor could leave is a problem named by its path;
a link's target (a secret outside the root) is never opened, a pipe never blocks, and the good files
beside it are still read."""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest
from support.landing_helpers import write_landing

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.defs.republish import panel_files
from cityindex_pipeline.method.panel import PanelFileError, panel_path, read_panel_file
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.base import RawDocument, SourceError, SourceProblem
from cityindex_pipeline.sources.ingest import pull_month
from cityindex_pipeline.sources.landing import COMPLETE_MARKER, MAX_PAGE, LandingSource, complete_drops
from cityindex_pipeline.sources.landing_tree import printable_name
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.warehouse.store import Warehouse

SEPTEMBER = Month(2024, 9)
SENTINEL = "sentinel-secret-7Hq2Lw"
PULL_TIMEOUT = 30.0
"""Seconds a pull of three accounts may take before it counts as blocked (it takes milliseconds)."""


@pytest.fixture(scope="module")
def accounts():
    return load_registry().accounts_for("facebook")[:3]


@pytest.fixture
def drop(tmp_path, accounts):
    """A complete facebook drop of three accounts in `landing/`, and a secret outside it: a file and
    a folder holding a file, each with the sentinel."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.json").write_text(f'{{"data": [], "token": "{SENTINEL}"}}', encoding="utf-8")
    (outside / "folder" / "posts.json").write_text(f'{{"data": [], "token": "{SENTINEL}"}}', encoding="utf-8")
    landing = tmp_path / "landing"
    documents = list(SimulatedSource().pull(SEPTEMBER, "facebook", accounts))
    write_landing(landing, documents)
    return landing, outside, documents


def pulled(landing: Path, accounts) -> list[RawDocument | SourceProblem]:
    """The pull's items, in a thread: a pull that blocks (on a pipe, say) fails the test, not the run."""
    items: list = []
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            items.extend(LandingSource(landing).pull(SEPTEMBER, "facebook", accounts))
        except BaseException as error:  # handed to the test below
            errors.append(error)

    worker = threading.Thread(target=pull, daemon=True)
    worker.start()
    worker.join(PULL_TIMEOUT)
    assert not worker.is_alive(), f"the pull blocked for {PULL_TIMEOUT:.0f} s"
    if errors:
        raise errors[0]
    return items


def problems_of(items) -> dict[str, SourceProblem]:
    return {
        item.location.removeprefix("landing://"): item for item in items if isinstance(item, SourceProblem)
    }


def assert_no_secret(items) -> None:
    for item in items:
        text = repr(item)
        if isinstance(item, SourceProblem):
            text += item.content.decode("utf-8", "replace")
        assert SENTINEL not in text, item


def assert_good_files_read(items, documents, except_handle: str | None = None) -> None:
    read = {(d.account_handle, d.endpoint, d.page, d.sha256) for d in items if isinstance(d, RawDocument)}
    expected = {(d.account_handle, d.endpoint, d.page, d.sha256) for d in documents}
    assert {key for key in expected if key[0] != except_handle} <= read


def _symlink(target: Path):
    return lambda path: path.symlink_to(target)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    here = Path.cwd()
    os.chdir(path.parent)  # a socket's path is limited to 108 bytes: bind it by its name
    try:
        server.bind(path.name)
    finally:
        os.chdir(here)
        server.close()


def _device(path: Path) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless if ever read
    except PermissionError:
        pytest.skip("making a device node needs root")


def _environ_link(path: Path) -> None:
    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc/self/environ here")
    path.symlink_to("/proc/self/environ")


# (what, the entry's path under the account folder (or the month folder with "../"), how to make it,
#  the reason's start)
NOT_REGULAR = [
    ("a link to a file outside", "posts-91.json", "secret.json", "a symbolic link, not a regular file"),
    ("a link to a folder outside", "more", "folder", "a symbolic link, not a regular file"),
    ("a link to the process environment", "page-92.json", "environ", "a symbolic link, not a regular file"),
    ("a named pipe", "posts-93.json", "fifo", "a named pipe (FIFO), not a regular file"),
    ("a socket", "post_insights-94.json", "socket", "a socket, not a regular file"),
    ("a device", "posts-95.json", "device", "a device, not a regular file"),
    ("a folder where a file belongs", "posts-96.json", "mkdir", "a folder, not a regular file"),
]


@pytest.mark.parametrize(("what", "name", "make", "reason"), NOT_REGULAR, ids=[c[0] for c in NOT_REGULAR])
def test_an_entry_that_is_not_a_regular_file_is_named_and_never_opened(
    drop, accounts, what, name, make, reason
):
    """Nothing of it is read: no content kept, no document made of it (of `/proc/self/environ` either)."""
    landing, outside, documents = drop
    handle = accounts[0].account_handle
    path = landing / "facebook" / "2024-09" / handle / name
    makers = {
        "secret.json": _symlink(outside / "secret.json"),
        "folder": _symlink(outside / "folder"),
        "environ": _environ_link,
        "fifo": _fifo,
        "socket": _socket,
        "device": _device,
        "mkdir": lambda p: p.mkdir(),
    }
    makers[make](path)
    items = pulled(landing, accounts)
    problem = problems_of(items)[f"facebook/2024-09/{handle}/{name}"]
    assert problem.reason.startswith(reason) and problem.reason.endswith("not read"), problem.reason
    assert problem.account_handle == handle and problem.content == b"", "nothing of it is read"
    assert not [d for d in items if isinstance(d, RawDocument) and d.request_url.endswith(f"/{name}")]
    assert_no_secret(items)
    assert_good_files_read(items, documents)


@pytest.mark.parametrize("registered", [True, False], ids=["registered account", "unknown account"])
def test_an_account_folder_that_is_a_link_is_named_and_not_followed(drop, accounts, registered):
    landing, outside, documents = drop
    handle = accounts[1].account_handle if registered else "StrangerPage"
    folder = landing / "facebook" / "2024-09" / handle
    if registered:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()
    folder.symlink_to(outside / "folder", target_is_directory=True)
    items = pulled(landing, accounts)
    problem = problems_of(items)[f"facebook/2024-09/{handle}"]
    assert problem.reason == "a symbolic link, not an account folder: not read"
    assert problem.account_handle == (handle if registered else None), "a registered account's is its own"
    assert_no_secret(items)
    assert_good_files_read(items, documents, except_handle=handle if registered else None)


OUTSIDE_THE_LAYOUT = [
    ("posts.JSON", "not a `<endpoint>[-<page>].json` file"),
    ("Posts.json", "not a `<endpoint>[-<page>].json` file"),
    ("posts-0.json", "not a `<endpoint>[-<page>].json` file"),
    ("posts-01.json", "not a `<endpoint>[-<page>].json` file"),
    ("p\u043ests.json", "not a `<endpoint>[-<page>].json` file"),  # a Cyrillic o
    ("posts.json.bak", "not a `<endpoint>[-<page>].json` file"),
    ("reels.json", "unknown endpoint 'reels'"),
    (f"posts-{MAX_PAGE + 1}.json", f"page {MAX_PAGE + 1} out of range"),
    ("posts-4294967297.json", "page 4294967297 out of range"),
    ("posts-99999999999.json", "page 99999999999 out of range"),
    ("posts-" + "9" * 200 + ".json", "page 99999999999999999999… (200 digits) out of range"),
]


@pytest.mark.parametrize(("name", "reason"), OUTSIDE_THE_LAYOUT, ids=[c[0][:24] for c in OUTSIDE_THE_LAYOUT])
def test_a_name_outside_the_layout_is_a_problem_kept_with_its_content(drop, accounts, name, reason):
    landing, _outside, documents = drop
    handle = accounts[0].account_handle
    (landing / "facebook" / "2024-09" / handle / name).write_text('{"data": []}', encoding="utf-8")
    items = pulled(landing, accounts)
    problem = problems_of(items)[f"facebook/2024-09/{handle}/{name}"]
    assert problem.reason.startswith(reason), problem.reason
    assert problem.content == b'{"data": []}', "a regular file inside the root is kept as it is"
    assert_good_files_read(items, documents)
    assert all(1 <= d.page <= MAX_PAGE for d in items if isinstance(d, RawDocument))


NAMES_TO_ESCAPE = [
    (b"posts-\xff.json", "posts-\\xff.json"),  # not UTF-8
    (b"posts\x1b[31m.json", "posts\\x1b[31m.json"),  # a terminal escape
    (b"posts.json\n", "posts.json\\x0a"),  # a trailing newline: `$` would have matched before it
    ("posts\u202egnp.json".encode(), "posts\\u202egnp.json"),  # a right-to-left override
    (b"posts.json ", "posts.json\\x20"),  # a trailing space
    (b"back\\slash.json", "back\\\\slash.json"),
]


def test_a_name_that_is_not_utf8_or_holds_control_characters_is_reported_escaped_and_stored(
    drop, accounts, tmp_path
):
    """Each problem is named escaped, and storing them all in a real warehouse does not fail."""
    landing, _outside, documents = drop
    handle = accounts[0].account_handle
    account = os.fsencode(landing / "facebook" / "2024-09" / handle)
    for raw, _shown in NAMES_TO_ESCAPE:
        with open(os.path.join(account, raw), "wb") as file:
            file.write(b'{"data": []}')
    items = pulled(landing, accounts)
    problems = problems_of(items)
    expected = [f"facebook/2024-09/{handle}/{shown}" for _raw, shown in NAMES_TO_ESCAPE]
    assert [where for where in expected if where not in problems] == []
    assert all(problem.location.isprintable() for problem in problems.values())
    assert_good_files_read(items, documents)
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema()
    summary = pull_month(LandingSource(landing), warehouse, SEPTEMBER, "facebook", accounts, run_id="run")
    stored = warehouse.source_problems(summary.pull_id)["location"].to_list()
    assert [where for where in expected if f"landing://{where}" not in stored] == []


def test_hidden_entries_are_reported_without_an_account_and_not_read(drop, accounts):
    """`.DS_Store`, an upload's temporary file, a hidden link: reported, never read, and under no
    account, so they neither block a month nor excuse an account's missing documents."""
    landing, outside, documents = drop
    month = landing / "facebook" / "2024-09"
    handle = accounts[2].account_handle
    (month / handle / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (month / handle / ".posts.json.Xy12ab").write_text('{"data": [', encoding="utf-8")
    (month / handle / ".secret").symlink_to(outside / "secret.json")
    (month / ".staging").mkdir()
    items = pulled(landing, accounts)
    problems = problems_of(items)
    for where in (f"{handle}/.DS_Store", f"{handle}/.posts.json.Xy12ab", f"{handle}/.secret", ".staging"):
        problem = problems[f"facebook/2024-09/{where}"]
        assert problem.reason == "a hidden entry (its name starts with a dot): not read"
        assert problem.account_handle is None and problem.content == b""
    assert_no_secret(items)
    assert_good_files_read(items, documents)
    handles = [item.account_handle or "" for item in items]
    assert handles == sorted(handles, key=lambda h: h == ""), (
        "problems of no account come after every account"
    )


def test_a_folder_whose_name_cannot_be_a_handle_is_named_and_not_read(drop, accounts):
    landing, _outside, documents = drop
    odd = landing / "facebook" / "2024-09" / "[bold red]Page\x1b]0;title\x07"
    odd.mkdir()
    (odd / "page.json").write_text('{"id": "1"}', encoding="utf-8")
    items = pulled(landing, accounts)
    shown = printable_name(odd.name)
    assert shown == "[bold red]Page\\x1b]0;title\\x07"
    problem = problems_of(items)[f"facebook/2024-09/{shown}"]
    assert problem.reason.startswith("a folder whose name cannot be an account handle")
    assert not [d for d in items if isinstance(d, RawDocument) and "Page" in d.account_handle]
    assert_good_files_read(items, documents)


@pytest.mark.parametrize("where", ["month", "platform"])
def test_a_month_or_platform_folder_that_is_a_link_stops_the_pull_naming_it(tmp_path, accounts, where):
    landing = tmp_path / "landing"
    elsewhere = tmp_path / "outside"
    write_landing(elsewhere, SimulatedSource().pull(SEPTEMBER, "facebook", accounts))
    landing.mkdir()
    if where == "month":
        (landing / "facebook").mkdir()
        (landing / "facebook" / "2024-09").symlink_to(elsewhere / "facebook" / "2024-09")
        named = "facebook/2024-09"
    else:
        (landing / "facebook").symlink_to(elsewhere / "facebook")
        named = "facebook"
    with pytest.raises(SourceError, match=f"{named}: a symbolic link, not a folder: not read"):
        pulled(landing, accounts)


@pytest.mark.parametrize("kind", ["link", "pipe", "folder"])
def test_a_complete_marker_that_is_not_a_regular_file_does_not_complete_the_drop(drop, accounts, kind):
    landing, outside, _documents = drop
    marker = landing / "facebook" / "2024-09" / COMPLETE_MARKER
    marker.unlink()
    {"link": lambda: marker.symlink_to(outside / "secret.json"), "pipe": lambda: os.mkfifo(marker)}.get(
        kind, marker.mkdir
    )()
    with pytest.raises(SourceError, match=f"not complete: facebook/2024-09/{COMPLETE_MARKER} is a "):
        pulled(landing, accounts)


def test_the_drop_sensor_counts_only_real_folders_and_regular_markers(tmp_path):
    """Four platforms complete: a drop; a marker or a month folder that is a link: none, and the
    sensor's reading never blocks on a pipe."""
    registry = load_registry()
    landing = tmp_path / "landing"
    for platform in ("facebook", "x", "instagram", "youtube"):
        write_landing(
            landing, SimulatedSource().pull(SEPTEMBER, platform, registry.accounts_for(platform)[:1])
        )
    (drop,) = complete_drops(landing)
    assert drop.month == SEPTEMBER
    marker = landing / "youtube" / "2024-09" / COMPLETE_MARKER
    marker.unlink()
    marker.symlink_to(tmp_path)
    assert complete_drops(landing) == []
    marker.unlink()
    os.mkfifo(marker)
    assert complete_drops(landing) == []
    marker.unlink()
    moved = tmp_path / "elsewhere"
    (landing / "youtube" / "2024-09").rename(moved)
    (landing / "youtube" / "2024-09").symlink_to(moved)
    (moved / COMPLETE_MARKER).write_text("", encoding="utf-8")
    assert complete_drops(landing) == []
    (landing / "youtube" / "2024-09-01").mkdir()  # not the layout's name for the month
    (landing / "youtube" / "2024-09-01" / COMPLETE_MARKER).write_text("", encoding="utf-8")
    assert complete_drops(landing) == []


@pytest.mark.parametrize("kind", ["file link", "folder link", "pipe"])
def test_a_panel_file_that_is_not_a_regular_file_inside_the_root_is_refused_by_name(tmp_path, kind):
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    outside.mkdir()
    secret = outside / "2024-09.csv"
    secret.write_text(f"city_id,rater,criterion,score\n{SENTINEL},r,content_quality,50\n", encoding="utf-8")
    path = panel_path(landing, SEPTEMBER)
    if kind == "folder link":
        landing.mkdir()
        path.parent.symlink_to(outside, target_is_directory=True)
        named = "qualitative"
    else:
        path.parent.mkdir(parents=True)
        path.symlink_to(secret) if kind == "file link" else os.mkfifo(path)
        named = "qualitative/2024-09.csv"
    with pytest.raises(PanelFileError, match=f"^{named}: a ") as refused:
        read_panel_file(landing, SEPTEMBER)
    assert SENTINEL not in str(refused.value)
    assert panel_files(landing) == {}, "the sensor watching the panels reads none of them"


def test_the_landing_root_itself_may_be_a_link(drop, accounts, tmp_path):
    landing, _outside, documents = drop
    mount = tmp_path / "mount"
    mount.symlink_to(landing, target_is_directory=True)
    items = pulled(mount, accounts)
    assert not problems_of(items)
    assert_good_files_read(items, documents)
