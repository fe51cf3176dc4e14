"""The archive keeps every raw write outside the warehouse file, before its commit, append-only, and
enough to recreate the raw tables exactly; a damaged or lost warehouse is named, with the way back."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator

import polars as pl
import pytest
from support.disk_full import disk_full_from

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.base import SourceProblem
from cityindex_pipeline.sources.ingest import pull_month
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.warehouse.connection import WarehouseDamagedError
from cityindex_pipeline.warehouse.rebuild import RebuildError, rebuild_warehouse, restore
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import TABLES

SEPTEMBER = Month(2024, 9)
RAW_TABLES = [table for table in TABLES if table.startswith("raw.")]


class WithProblems:
    """The simulated platform, plus a file of bytes that are not UTF-8 beside each second account and
    one problem that belongs to no account (as the landing source reports them)."""

    name = "simulated"

    def pull(self, month, platform, accounts) -> Iterator:
        yield SourceProblem(
            platform, None, f"{platform}/{month}/stray.bin", "not an account folder", b"\x00stray"
        )
        for index, account in enumerate(accounts):
            yield from SimulatedSource().pull(month, platform, [account])
            if index % 2:
                location = f"{platform}/{month}/{account.account_handle}/posts-9.json"
                yield SourceProblem(
                    platform, account.account_handle, location, "not UTF-8", b"\xff\xfe\x00bad"
                )


def accounts(platform: str, count: int):
    return load_registry().accounts_for(platform)[:count]


def raw_tables(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    with warehouse.session():
        return {table: warehouse.query(f"SELECT * FROM {table} ORDER BY ALL") for table in RAW_TABLES}


def restored(warehouse: Warehouse, tmp_path) -> dict[str, pl.DataFrame]:
    target = tmp_path / f"restored-{len(list(tmp_path.glob('restored-*')))}.duckdb"
    restore(warehouse.archive, target)
    return raw_tables(Warehouse(target, archived=False))


def assert_restores(warehouse: Warehouse, tmp_path) -> None:
    """The archive restores the warehouse's raw tables exactly, every row and column; the one thing
    it may add is a pull whose start was archived but never committed, in progress with nothing stored
    (the next run of the month resumes it as it would start a new pull)."""
    committed, archived = raw_tables(warehouse), restored(warehouse, tmp_path)
    phantom = archived["raw.pulls"].join(committed["raw.pulls"], on="pull_id", how="anti")
    assert (phantom["status"] == "in_progress").all(), phantom
    assert not phantom["pull_id"].is_in(archived["raw.pull_accounts"]["pull_id"].implode()).any()
    archived["raw.pulls"] = archived["raw.pulls"].join(phantom, on="pull_id", how="anti")
    for table in RAW_TABLES:
        assert archived[table].equals(committed[table]), table


def archive_files(warehouse: Warehouse) -> dict[str, tuple[bytes, int, int]]:
    """Every archived file: bytes, inode and modification time (a rewrite changes one of them)."""
    return {
        str(path.relative_to(warehouse.archive.root)): (
            path.read_bytes(),
            path.stat().st_ino,
            path.stat().st_mtime_ns,
        )
        for path in sorted(warehouse.archive.root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    store = Warehouse(tmp_path / "home" / "warehouse.duckdb")
    store.ensure_schema()
    return store


def test_the_raw_tables_restored_from_the_archive_are_the_warehouse_s(warehouse, tmp_path):
    with warehouse.session():
        pull_month(WithProblems(), warehouse, SEPTEMBER, "x", accounts("x", 5), run_id="run-1")
        pull_month(SimulatedSource(), warehouse, SEPTEMBER, "youtube", accounts("youtube", 3), run_id="run-1")
    original = raw_tables(warehouse)
    assert original["raw.source_problems"].height == 3 and original["raw.pulls"].height == 2
    assert b"\xff\xfe\x00bad" in original["raw.source_problems"]["content"].to_list()
    copy = restored(warehouse, tmp_path)
    assert all(copy[table].equals(original[table]) for table in RAW_TABLES), "every row, every column"
    packs = list(warehouse.archive.root.glob("objects/2024-09/*/*.parquet"))
    stored = sum(len(body.encode()) for body in original["raw.documents"]["body"])
    assert sum(pack.stat().st_size for pack in packs) < stored / 3, "the objects are compressed"


def test_a_second_pull_adds_to_the_archive_and_rewrites_nothing(warehouse, tmp_path):
    first = pull_month(SimulatedSource(), warehouse, SEPTEMBER, "x", accounts("x", 4), run_id="run-1")
    before = archive_files(warehouse)
    second = pull_month(SimulatedSource(), warehouse, SEPTEMBER, "x", accounts("x", 4), run_id="run-2")
    after = archive_files(warehouse)
    assert {path: after[path] for path in before} == before, (
        "every archived file as it was: bytes, inode, time"
    )
    added = sorted(set(after) - set(before))
    assert added and all(path.startswith(f"pulls/2024-09/x/{second.pull_id}/") for path in added), (
        "the same bodies again are not packed again: only the second pull's records are added"
    )
    assert first.pull_id != second.pull_id
    assert_restores(warehouse, tmp_path)


def sealed(warehouse: Warehouse) -> tuple[set[tuple[str, str]], set[str]]:
    """What the archive holds, read from its files: the sealed (pull, account) pairs, the objects."""
    root = warehouse.archive.root
    seals = [pl.read_parquet(path) for path in root.glob("pulls/*/*/*/*.pull_accounts.parquet")]
    packs = [pl.read_parquet(path, columns=["sha256"]) for path in root.glob("objects/*/*/*.parquet")]
    accounts = set(pl.concat(seals).select("pull_id", "account_handle").iter_rows()) if seals else set()
    return accounts, set(pl.concat(packs)["sha256"]) if packs else set()


def test_a_full_disk_while_archiving_never_leaves_the_warehouse_ahead_of_the_archive(tmp_path, monkeypatch):
    """A pull of 4 accounts in batches of 2, the disk full from the n-th fsync on, for every n (each
    archived file and folder is flushed: the fsyncs are its steps): what the warehouse committed is in
    the archive. Where the archive got ahead (a sealed batch whose commit failed), the pull is resumed
    once the disk is freed, and the archive restores exactly the warehouse's raw tables: the resumed
    pull's batch counts, not the failed one."""
    monkeypatch.setattr("cityindex_pipeline.sources.ingest.FLUSH_ACCOUNTS", 2)
    base = tmp_path / "base"
    Warehouse(base / "warehouse.duckdb").ensure_schema()
    n, ahead = 1, 0
    while True:
        home = tmp_path / f"fsync-{n}"
        shutil.copytree(base, home)
        warehouse = Warehouse(home / "warehouse.duckdb")
        with warehouse.session(), disk_full_from("fsync", n) as seen:
            try:
                pull_month(
                    SimulatedSource(), warehouse, SEPTEMBER, "youtube", accounts("youtube", 4), run_id="run-1"
                )
                failed = False
            except OSError as error:
                assert error.errno == errno.ENOSPC
                failed = True
        if seen[0] < n:
            break
        assert failed
        with warehouse.session():
            committed = set(
                warehouse.query("SELECT pull_id, account_handle FROM raw.pull_accounts").iter_rows()
            )
            documents = set(warehouse.query("SELECT sha256 FROM raw.documents")["sha256"])
        accounts_archived, objects = sealed(warehouse)
        assert committed <= accounts_archived and documents <= objects, (
            "the warehouse never ahead of the archive"
        )
        if accounts_archived - committed:
            ahead += 1
            with warehouse.session():
                pull_month(
                    SimulatedSource(), warehouse, SEPTEMBER, "youtube", accounts("youtube", 4), run_id="run-2"
                )
            assert_restores(warehouse, home)
        n += 1
    assert n > 10, f"only {n - 1} fsync calls were seen"
    assert ahead, "some fault fell between a batch's seal and its commit"


def test_a_damaged_pack_is_kept_as_it_is_and_its_objects_packed_again(warehouse, tmp_path):
    pull_month(SimulatedSource(), warehouse, SEPTEMBER, "x", accounts("x", 3), run_id="run-1")
    (pack,) = warehouse.archive.root.glob("objects/2024-09/x/*.parquet")
    damaged = bytearray(pack.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    pack.chmod(0o644)
    pack.write_bytes(bytes(damaged))
    pull_month(SimulatedSource(), Warehouse(warehouse.path), SEPTEMBER, "x", accounts("x", 3), run_id="run-2")
    assert pack.read_bytes() == bytes(damaged), "an archived file is never rewritten, even a damaged one"
    assert len(list(warehouse.archive.root.glob("objects/2024-09/x/*.parquet"))) == 2
    assert_restores(warehouse, tmp_path)


def test_a_restore_refuses_documents_whose_object_is_lost(warehouse, tmp_path):
    pull_month(SimulatedSource(), warehouse, SEPTEMBER, "x", accounts("x", 3), run_id="run-1")
    for pack in warehouse.archive.root.glob("objects/2024-09/x/*.parquet"):
        pack.unlink()
    with pytest.raises(RebuildError, match=r"have no intact object in .*objects/2024-09/x"):
        restore(warehouse.archive, tmp_path / "restored.duckdb")


def test_a_truncated_or_lost_warehouse_names_the_file_and_rebuild(warehouse):
    pull_month(SimulatedSource(), warehouse, SEPTEMBER, "x", accounts("x", 2), run_id="run-1")
    path = warehouse.path
    shutil.copy(path, path.with_name("kept.duckdb"))
    os.truncate(path, path.stat().st_size // 3)
    with pytest.raises(WarehouseDamagedError, match=rf"{path} is damaged .*`cityindex rebuild`"):
        Warehouse(path).query("SELECT count(*) FROM raw.documents")
    path.unlink()
    with pytest.raises(
        WarehouseDamagedError, match=rf"no warehouse at {path}, but the archive .*`cityindex rebuild`"
    ):
        Warehouse(path).query("SELECT 1")


def test_rebuild_keeps_a_damaged_file_aside_and_refuses_an_intact_one_unless_forced(warehouse):
    pull_month(SimulatedSource(), warehouse, SEPTEMBER, "x", accounts("x", 2), run_id="run-1")
    original = raw_tables(warehouse)
    with pytest.raises(RebuildError, match=r"opens and every table reads back intact.*--force"):
        rebuild_warehouse(warehouse.path, warehouse.path.parent / "exports")
    with open(warehouse.path, "r+b") as damaging:  # in the middle: the file opens, a table does not read
        damaging.seek(warehouse.path.stat().st_size // 2)
        damaging.write(b"\xa5" * 65536)
    damaged = warehouse.path.read_bytes()
    assert Warehouse(warehouse.path).table_counts()["raw.documents"] > 0, "the damaged file still opens"
    staged = (
        warehouse.archive.publication_folder(SEPTEMBER) / ".v1.staged-0badf00d"
    )  # killed after its commit?
    staged.mkdir(parents=True)
    rebuilt = rebuild_warehouse(warehouse.path, warehouse.path.parent / "exports")
    assert [kept.name[:13] for kept in rebuilt.unconfirmed] == ["unconfirmed-v"] and not staged.exists()
    assert (
        rebuilt.set_aside.name.startswith("warehouse.damaged-") and rebuilt.set_aside.read_bytes() == damaged
    )
    assert rebuilt.why.startswith("damaged: ")
    assert all(raw_tables(Warehouse(warehouse.path))[t].equals(original[t]) for t in RAW_TABLES)
    forced = rebuild_warehouse(warehouse.path, warehouse.path.parent / "exports", force=True)
    assert forced.set_aside.name.startswith("warehouse.replaced-") and forced.why == ""
    assert all(raw_tables(Warehouse(warehouse.path))[t].equals(original[t]) for t in RAW_TABLES)
    assert len(list(warehouse.path.parent.glob("warehouse.*.duckdb"))) == 2, "no file deleted"


def test_pulls_stored_before_the_archive_existed_are_archived_by_the_next_pull(warehouse, tmp_path):
    """A home from before the archive: its first pull archives what the warehouse held."""
    older = Warehouse(warehouse.path, archived=False)
    pull_month(WithProblems(), older, SEPTEMBER, "x", accounts("x", 3), run_id="run-0")
    assert not warehouse.archive.root.exists()
    pull_month(SimulatedSource(), warehouse, SEPTEMBER, "youtube", accounts("youtube", 2), run_id="run-1")
    assert_restores(warehouse, tmp_path)
    assert restored(warehouse, tmp_path)["raw.pulls"].height == 2
