"""Publishing is atomic: a full disk at any write, fsync, rename or at the commit, and a real full disk,
leave v1 as it was and a state the next publication heals without a hand fix: no folder without its
row, no row without its folder. (Kills between the steps: tests/faults/test_killed_publishing.py.)"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from support.disk_full import disk_full_from
from support.publication_helpers import SEPTEMBER, assert_whole, files_of, provenance, rows

from cityindex_pipeline.publication import publish as pub
from cityindex_pipeline.publication.records import PublicationError
from cityindex_pipeline.warehouse.store import Warehouse


def publish(home: Path, score: float, warehouse: Warehouse | None = None) -> pub.Publication:
    """What `published_index` does for a month of two cities, numbers by `score`."""
    return pub.publish_month(
        warehouse or Warehouse(home / "warehouse.duckdb"),
        SEPTEMBER,
        f"run-{score}",
        rows(score),
        provenance=provenance(f"inputs-{score}"),
        exports_dir=home / "exports",
    )


@pytest.fixture(scope="module")
def with_v1(tmp_path_factory) -> tuple[Path, tuple]:
    """A home with v1 published: its files and rows, which no fault may change."""
    home = tmp_path_factory.mktemp("published")
    Warehouse(home / "warehouse.duckdb").ensure_schema()
    assert publish(home, 80.0).version == 1
    return home, v1_state(Warehouse(home / "warehouse.duckdb"))


def v1_state(warehouse: Warehouse) -> tuple[dict[str, bytes], list[tuple]]:
    home = warehouse.path.parent
    files = {
        **files_of(home / "exports" / "2024-09" / "v1"),
        **{
            f"archive/{k}": v
            for k, v in files_of(warehouse.archive.publication_folder(SEPTEMBER) / "v1").items()
        },
    }
    with warehouse.connect() as con:
        published = [
            con.sql(f"SELECT * FROM {table} WHERE version = 1 ORDER BY ALL").fetchall()
            for table in ("publish.publications", "publish.index", "publish.qualitative_inputs")
        ]
    return files, published


def healed_to_v2(home: Path, v1: tuple) -> pub.Publication:
    """The next publication, with nothing fixed by hand: v2 in place, whole, v1 byte for byte as it was."""
    warehouse = Warehouse(home / "warehouse.duckdb")
    with warehouse.session():  # one opening of the file, for the publication and every check
        again = publish(home, 85.0, warehouse)
        assert again.version == 2
        assert warehouse.publications(SEPTEMBER)["version"].to_list() == [1, 2]
        assert_whole(warehouse, home / "exports")
        assert v1_state(warehouse) == v1
    return again


CALLS = {"write": (12, {"not committed"}), "fsync": (15, {"not committed", "committed"}),
         "rename": (2, {"committed"})}  # fmt: skip
"""Each primitive: how many calls publishing v2 makes at least (6 export files and 6 archived tables),
and on which side of the commit point they fall."""


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_full_disk_at_every_write_fsync_and_rename_of_publishing_is_healed_by_the_next(
    with_v1, tmp_path, call
):
    base, v1 = with_v1
    outcomes = set()
    n = 1
    while True:
        home = tmp_path / f"{call}-{n}"
        shutil.copytree(base, home)
        with disk_full_from(call, n) as seen:
            try:
                publish(home, 85.0)
                failed = False
            except OSError as error:
                assert error.errno == errno.ENOSPC
                failed = True
        if seen[0] < n:
            assert not failed
            break
        assert failed, f"the {n}-th {call} failed, so did the publication"
        committed = Warehouse(home / "warehouse.duckdb").publications(SEPTEMBER).height == 2
        assert not (home / "exports" / "2024-09" / "v2").exists() or committed, "no folder without its row"
        outcomes.add("committed" if committed else "not committed")
        healed = healed_to_v2(home, v1)
        assert healed.created != committed, "a committed v2 is healed into place, not published twice"
        n += 1
    least, sides = CALLS[call]
    assert n - 1 >= least, f"publishing made only {n - 1} {call} calls: the sweep saw too little"
    assert outcomes == sides


def test_a_failed_commit_publishes_nothing_and_leaves_no_staging(with_v1, tmp_path, monkeypatch):
    """The disk fills at the commit, after the rows went in and the archive's copy was staged (the
    warehouse's `before_commit` seam): DuckDB rolls the version back; both staged folders go."""
    base, v1 = with_v1
    home = tmp_path / "home"
    shutil.copytree(base, home)

    def disk_full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device (at the commit)")

    def commit_on_a_full_disk(warehouse, record, rows, panel, previous_inputs=None):
        return warehouse.publish(
            record, rows, before_commit=disk_full, qualitative=panel, previous_inputs=previous_inputs
        )

    with monkeypatch.context() as patched:
        patched.setattr(pub, "commit", commit_on_a_full_disk)
        with pytest.raises(OSError, match="at the commit"):
            publish(home, 85.0)
    warehouse = Warehouse(home / "warehouse.duckdb")
    assert warehouse.publications(SEPTEMBER)["version"].to_list() == [1]
    assert_whole(warehouse, home / "exports")
    assert healed_to_v2(home, v1).created


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A real 16 MiB tmpfs, to fill; skipped where `mount` is not allowed (it needs root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True, text=True, check=False
    ) if shutil.which("mount") else None  # fmt: skip
    if mounted is None or mounted.returncode != 0:
        pytest.skip(
            f"no small disk to fill: mount -t tmpfs was refused ({mounted.stderr.strip() if mounted else 'no mount'})"
        )
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill the disk but `leave` bytes (to the block), with a file that freeing the disk removes."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with filler.open("wb") as out:
        out.truncate(0)
        chunk = b"\0" * 4096
        for _ in range(max(0, free - leave) // len(chunk)):
            out.write(chunk)
    return filler


def test_a_real_full_disk_at_any_point_of_publishing_is_healed_once_freed(with_v1, small_disk):
    """The warehouse, the exports and the archive on one small disk, filled so that each attempt runs
    out of space a little later than the one before, wherever that falls: DuckDB's commit included."""
    base, v1 = with_v1
    home = small_disk / "home"
    failures, leave = [], 0
    while True:
        shutil.copytree(base, home)
        filler = fill(small_disk, leave)
        try:
            publish(home, 85.0)
            failed = None
        except (OSError, duckdb.Error) as error:
            failed = str(error).splitlines()[0]
        filler.unlink()
        if failed is None:
            break
        failures.append(failed)
        healed_to_v2(home, v1)
        shutil.rmtree(home)
        leave += 4096  # a block: a coarser step can jump over the few blocks of DuckDB's commit
        assert leave < 2**20, "publishing a version of two cities needs far less than 1 MiB"
    assert len(failures) >= 3, failures
    assert any("commit" in failure.lower() for failure in failures), (
        "the disk filled at DuckDB's commit too",
        failures,
    )
    assert_whole(Warehouse(home / "warehouse.duckdb"), home / "exports")


def test_a_lost_export_is_regenerated_only_when_byte_identical_else_reported(with_v1, tmp_path):
    base, v1 = with_v1
    home = tmp_path / "home"
    shutil.copytree(base, home)
    export = home / "exports" / "2024-09" / "v1"
    shutil.rmtree(export)
    again = publish(home, 80.0)
    assert not again.created and again.healed == [
        "exports/2024-09/v1: was missing; exported again, byte for byte as published"
    ]
    assert v1_state(Warehouse(home / "warehouse.duckdb")) == v1

    shutil.rmtree(export)
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:  # a record no longer as it was exported
        con.execute("UPDATE publish.publications SET reason = 'edited by hand'")
    again = publish(home, 80.0)
    assert "cannot be regenerated byte for byte" in again.healed[0]
    assert not export.exists() and not list(export.parent.glob(".*")), "nothing half-made is left"


def test_a_warehouse_older_than_the_archive_is_refused_naming_rebuild(with_v1, tmp_path):
    """A warehouse file put back from a copy made before v2: its exports are not moved aside as
    orphans, nothing is published over them; the message names the way back."""
    base, _ = with_v1
    home = tmp_path / "home"
    shutil.copytree(base, home)
    shutil.copy(home / "warehouse.duckdb", tmp_path / "before-v2.duckdb")
    publish(home, 85.0)
    exports = files_of(home / "exports")
    shutil.copy(tmp_path / "before-v2.duckdb", home / "warehouse.duckdb")
    with pytest.raises(
        PublicationError, match=r"holds publications that .* lacks \(2024-09 v2\).*cityindex rebuild"
    ):
        publish(home, 90.0)
    assert files_of(home / "exports") == exports
