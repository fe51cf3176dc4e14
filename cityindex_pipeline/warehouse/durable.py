"""Writes that survive a crash or a full disk: a file is flushed to the disk before it gets its name, a
folder is renamed into place only once its files are flushed, and every rename is flushed in its parent.

The archive and the exports write every byte through these few functions, so a fault met by any of
them (`ENOSPC` at a write, an fsync or a rename; a kill between two of them) leaves either the old
state or a staged one that the next run can finish or discard. Names that begin with a dot are
staging: readers ignore them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a file created or renamed in it) to the disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_folders(folder: Path) -> None:
    """Create a folder and its missing parents, each new entry flushed in its parent."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        sync_folder(new.parent)


def write_file(path: Path, data: bytes, mode: int = 0o444) -> None:
    """Create `path` holding `data`, flushed to the disk; never replaces an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_once(path: Path, data: bytes) -> bool:
    """Give `path` the content `data` once and for all: written under a staging name, flushed, then
    renamed. An existing file is verified, not overwritten: True if written, False if it held the same
    bytes already; a file of other bytes under that name is an error (append-only). The caller flushes
    the folder (`sync_folder`) once for all the files it wrote there."""
    if path.exists():
        if path.read_bytes() != data:
            raise FileExistsError(f"{path} exists with other content: an archived file is never rewritten")
        return False
    staging = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        write_file(staging, data)
        os.rename(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return True


def staging_folder(final: Path) -> Path:
    """A new, empty, hidden folder beside `final` (its parents created) to stage `final`'s files in."""
    make_folders(final.parent)
    staged = final.with_name(f".{final.name}.staged-{uuid.uuid4().hex[:8]}")
    staged.mkdir()
    return staged


def rename_into_place(staged: Path, final: Path) -> None:
    """Rename a staged folder (or file) to its final name, never over an existing one, and flush the
    parent folder: once this returns, the new name survives a crash."""
    if final.exists():
        raise FileExistsError(f"{final} exists: it is never replaced")
    if staged.is_dir():
        sync_folder(staged)
    os.rename(staged, final)
    sync_folder(final.parent)


def discard(staged: Path) -> None:
    """Remove a staged folder that will never be placed (best effort: a full disk does not stop it)."""
    shutil.rmtree(staged, ignore_errors=True)
