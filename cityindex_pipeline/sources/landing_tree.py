"""The one way into the landing folder: regular files inside it, never anything a link points to.

A vendor fills the landing folder, so what is in it is not trusted. Every reader of it (a month's
documents and its `_COMPLETE` marker, the drop sensor, the expert-panel file and the sensor watching
it) goes through `LandingTree`:

- a folder is opened relative to its parent, without following a link (`O_NOFOLLOW`, `O_DIRECTORY`);
  a file with `O_NOFOLLOW | O_NONBLOCK`, and `fstat` must say it is a regular file before a byte is
  read. A symbolic link (to a file or a folder), a named pipe, a socket or a device is named by its
  path and never opened, so its target is never read and a pipe cannot block a pull;
- names are single path components taken from the folder's own listing, and a file's resolved path
  must lie inside the resolved root: nothing outside the landing folder is read. The configured root
  itself may be a link (a mount point); nothing under it may be;
- a file larger than `MAX_FILE_BYTES` is not read;
- every path is reported relative to the root and escaped (`printable_name`): a name that is not
  UTF-8, or holds control or invisible characters, can be stored and printed as it is.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from cityindex_pipeline.core.render import escape_char

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest file read (64 MiB): a platform's response page is a few hundred KiB; anything near this is
not a response body, and reading it whole could exhaust memory."""

_SHOWN = ("L", "M", "N", "P", "S")
"""Categories of the characters a name shows as themselves: letters, marks, numbers, punctuation,
symbols. Everything else (controls, format and invisible characters, other spaces) is escaped."""


class Kind(StrEnum):
    FILE = "regular file"
    FOLDER = "folder"
    SYMLINK = "symbolic link"
    FIFO = "named pipe (FIFO)"
    SOCKET = "socket"
    DEVICE = "device"
    OTHER = "special file"


def kind_of(mode: int) -> Kind:
    if stat.S_ISREG(mode):
        return Kind.FILE
    if stat.S_ISDIR(mode):
        return Kind.FOLDER
    if stat.S_ISLNK(mode):
        return Kind.SYMLINK
    if stat.S_ISFIFO(mode):
        return Kind.FIFO
    if stat.S_ISSOCK(mode):
        return Kind.SOCKET
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return Kind.DEVICE
    return Kind.OTHER


def printable_name(name: str) -> str:
    """A file name as it can be stored and shown: letters, marks, numbers, punctuation, symbols and
    inner spaces as they are; a backslash doubled; anything else (control characters, invisible and
    format characters, a leading or trailing space, bytes that are not UTF-8) as an escape."""
    last = len(name) - 1
    shown = []
    for position, char in enumerate(name):
        if char == "\\":
            shown.append("\\\\")
        elif unicodedata.category(char)[0] in _SHOWN or (char == " " and 0 < position < last):
            shown.append(char)
        else:
            shown.append(escape_char(char))
    return "".join(shown)


def _component(name: str) -> str:
    """A name is one path component: no separator, no `.` or `..`, nothing empty."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"not a single path component: {printable_name(name)!r}")
    return name


@dataclass(frozen=True)
class Entry:
    """One entry of a folder, as `lstat` sees it (a link is a link, never its target)."""

    name: str
    """As the file system gives it (bytes that are not UTF-8 as surrogate escapes)."""
    where: str
    """Its path relative to the landing root, escaped: what messages and stored locations say."""
    kind: Kind
    size: int
    mtime_ns: int

    @property
    def hidden(self) -> bool:
        return self.name.startswith(".")


@dataclass(frozen=True)
class LandingFile:
    """A regular file's bytes, read once through its own descriptor."""

    where: str
    content: bytes
    modified_at: datetime


class LandingEntryError(Exception):
    """An entry that is not what the layout asks for (a link, a pipe, a folder where a file belongs,
    a file too large or unreadable). Its message names it by its path and says why it was not read."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class MissingEntryError(LandingEntryError):
    """Nothing by that name."""


def _join(where: str, name: str) -> str:
    return f"{where}/{printable_name(name)}" if where else printable_name(name)


class Folder:
    """An open folder of the landing tree: its entries, its files and its sub-folders, each opened
    relative to it. Use it as a context manager (it holds a file descriptor)."""

    def __init__(self, fd: int, where: str, resolved: str, root: str) -> None:
        self._fd = fd
        self.where = where
        self._resolved = resolved
        self._root = root

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def entries(self) -> list[Entry]:
        """Every entry, by name, without following links."""
        found = []
        with os.scandir(self._fd) as listing:
            for item in listing:
                try:
                    info = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # gone since the listing
                found.append(
                    Entry(
                        item.name,
                        _join(self.where, item.name),
                        kind_of(info.st_mode),
                        info.st_size,
                        info.st_mtime_ns,
                    )
                )
        return sorted(found, key=lambda entry: entry.name)

    def entry(self, name: str) -> Entry | None:
        try:
            info = os.stat(_component(name), dir_fd=self._fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return Entry(name, _join(self.where, name), kind_of(info.st_mode), info.st_size, info.st_mtime_ns)

    def folder(self, name: str) -> Folder:
        """The sub-folder `name`; a link, or anything but a folder, is refused by its path."""
        where = _join(self.where, name)
        try:
            fd = os.open(
                _component(name), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._fd
            )
        except OSError as error:
            raise self._refusal(name, where, error, "a folder") from None
        return Folder(fd, where, os.path.join(self._resolved, name), self._root)

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> LandingFile:
        """The bytes of the regular file `name`, read through the descriptor that was checked."""
        where = _join(self.where, name)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(_component(name), flags, dir_fd=self._fd)
        except OSError as error:
            raise self._refusal(name, where, error, "a regular file") from None
        try:
            info = os.fstat(fd)
            kind = kind_of(info.st_mode)
            if kind is not Kind.FILE:
                raise LandingEntryError(where, f"a {kind}, not a regular file: not read")
            if info.st_size > limit:
                raise LandingEntryError(
                    where, f"{info.st_size:,} bytes, more than the {limit:,} read: not read"
                )
            if not _inside(os.path.realpath(os.path.join(self._resolved, name)), self._root):
                raise LandingEntryError(where, "resolves outside the landing folder: not read")
            os.set_blocking(fd, True)
            chunks, size = [], 0
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise LandingEntryError(where, f"grew past the {limit:,} bytes read: not read")
        except OSError as error:
            raise LandingEntryError(where, f"could not be read ({error.strerror})") from None
        finally:
            os.close(fd)
        return LandingFile(where, b"".join(chunks), datetime.fromtimestamp(info.st_mtime, UTC))

    def _refusal(self, name: str, where: str, error: OSError, wanted: str) -> LandingEntryError:
        """Why `name` could not be opened as `wanted`, said by what it is (its `lstat`)."""
        if error.errno == errno.ENOENT:
            return MissingEntryError(where, "missing")
        found = self.entry(name)
        if found is not None and error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK, errno.ENXIO):
            return LandingEntryError(where, f"a {found.kind}, not {wanted}: not read")
        return LandingEntryError(where, f"could not be opened ({error.strerror})")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class LandingTree:
    """The landing folder at `root`, read only through `Folder`s opened from it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def open(self, *parts: str) -> Folder:
        """The folder at `root/parts...`, each part opened without following a link. The root is
        missing: `MissingEntryError` with an empty path."""
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the root may be a link
        except FileNotFoundError:
            raise MissingEntryError("", "the landing folder is missing") from None
        except OSError as error:
            raise LandingEntryError(
                "", f"the landing folder could not be opened ({error.strerror})"
            ) from None
        resolved = os.path.realpath(self.root)
        folder = Folder(fd, "", resolved, resolved)
        for part in parts:
            try:
                inner = folder.folder(part)
            finally:
                folder.close()
            folder = inner
        return folder

    def read(self, *parts: str) -> LandingFile | None:
        """The regular file at `root/parts...`, or None if there is nothing by that name. Anything
        else by that name (a link, a pipe, a folder) raises `LandingEntryError` naming its path."""
        *folders, name = parts
        try:
            with self.open(*folders) as folder:
                return folder.read(name)
        except MissingEntryError:
            return None
