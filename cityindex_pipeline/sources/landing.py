"""The landing-folder source: response bodies a monitoring vendor drops as files.

Layout: `landing/<platform>/<YYYY-MM>/<account_handle>/<endpoint>[-<page>].json`, each file one
response body exactly as the platform returned it (`posts.json` is page 1, `posts-2.json` page 2).
A platform's month is complete when `landing/<platform>/<YYYY-MM>/_COMPLETE` exists; until then
it is not read. Every file is stored verbatim; files that cannot be used are reported by name.

The folder is read through `LandingTree` only: regular files inside it, never a link's target. What
is not a regular file with a name of the layout is a `SourceProblem` named by its path:

- a link, a named pipe, a socket or a device (content not read); a folder where a file belongs;
- a name outside the layout (`posts.JSON`, `Posts.json`, `posts-01.json`, a look-alike letter, an
  unknown endpoint) or a page outside 1-`MAX_PAGE` (content kept, as the file holds it);
- a hidden entry (its name starts with a dot: `.DS_Store`, an upload's temporary file): reported,
  not read, and with no account, so it neither blocks a month nor explains an account's absence.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.parsing.document import MAX_PAGE
from cityindex_pipeline.reference.registry import Account, is_safe_handle
from cityindex_pipeline.sources.base import ENDPOINTS, RawDocument, SourceError, SourceProblem
from cityindex_pipeline.sources.landing_tree import (
    Entry,
    Folder,
    Kind,
    LandingEntryError,
    LandingTree,
    MissingEntryError,
)

COMPLETE_MARKER = "_COMPLETE"
LOCATION_PREFIX = "landing://"
"""How a document or problem from the landing folder gives its location (its path in the folder)."""


_FILE_NAME = re.compile(r"(?P<endpoint>[a-z_]+?)(?:-(?P<page>[1-9][0-9]*))?\.json")
_HIDDEN = "a hidden entry (its name starts with a dot): not read"


class LandingSource:
    """Reads a month's drop from `landing_dir`; no network, no credentials."""

    name = "files"

    def __init__(self, landing_dir: Path) -> None:
        self.landing_dir = Path(landing_dir)

    def pull(
        self, month: Month, platform: str, accounts: Iterable[Account]
    ) -> Iterator[RawDocument | SourceProblem]:
        wanted = {a.account_handle for a in accounts if a.platform == platform and a.active_in(month)}
        try:
            folder = LandingTree(self.landing_dir).open(platform, str(month))
        except MissingEntryError:
            raise SourceError(
                f"no {platform} drop for {month}: expected the folder {platform}/{month}"
            ) from None
        except LandingEntryError as error:
            raise SourceError(
                f"the {platform} drop for {month} cannot be read: {error} (only folders and regular files "
                "inside the landing folder are read, never through a link)"
            ) from None
        with folder:
            entries = folder.entries()
            marker = next((entry for entry in entries if entry.name == COMPLETE_MARKER), None)
            if marker is None:
                raise SourceError(
                    f"the {platform} drop for {month} is not complete: {platform}/{month}/{COMPLETE_MARKER} is missing"
                )
            if marker.kind is not Kind.FILE:
                raise SourceError(
                    f"the {platform} drop for {month} is not complete: {marker.where} is a {marker.kind}, "
                    "not a regular file"
                )
            unowned: list[SourceProblem] = []  # problems of no account: after every account's items
            for entry in entries:
                if entry is marker:
                    continue
                if entry.hidden and entry.name not in wanted:
                    unowned.append(_problem(platform, None, entry.where, _HIDDEN))
                elif entry.kind is Kind.FOLDER and is_safe_handle(entry.name):
                    yield from self._account(month, platform, entry, folder, wanted, unowned)
                elif entry.kind is Kind.FOLDER:
                    unowned.append(
                        _problem(
                            platform,
                            None,
                            entry.where,
                            "a folder whose name cannot be an account handle (letters, digits, _, . and -): not read",
                        )
                    )
                elif entry.kind is Kind.FILE:
                    unowned.append(
                        _read_problem(platform, None, folder, entry, "a file outside any account folder")
                    )
                else:
                    handle = entry.name if entry.name in wanted else None  # a registered account's, named
                    problem = _problem(
                        platform, handle, entry.where, f"a {entry.kind}, not an account folder: not read"
                    )
                    if handle is None:
                        unowned.append(problem)
                    else:
                        yield problem
            yield from unowned

    def _account(
        self,
        month: Month,
        platform: str,
        entry: Entry,
        month_folder: Folder,
        wanted: set[str],
        unowned: list[SourceProblem],
    ) -> Iterator[RawDocument | SourceProblem]:
        """One account folder's documents and problems, all under its handle."""
        handle = entry.name
        if handle not in wanted:  # stored anyway (cleaning quarantines it), and reported
            yield _problem(
                platform, handle, entry.where, "an account folder not in the registry for this month"
            )
        try:
            account = month_folder.folder(handle)
        except LandingEntryError as error:  # replaced since the listing
            yield _problem(platform, handle, error.where, error.reason)
            return
        with account:
            yield from self._account_files(month, platform, handle, account, unowned)

    def _account_files(
        self, month: Month, platform: str, handle: str, folder: Folder, unowned: list[SourceProblem]
    ) -> Iterator[RawDocument | SourceProblem]:
        seen: set[tuple[str, int]] = set()
        for entry in sorted(folder.entries(), key=_file_order):
            if entry.hidden:
                unowned.append(_problem(platform, None, entry.where, _HIDDEN))
                continue
            if entry.kind is not Kind.FILE:
                yield _problem(platform, handle, entry.where, f"a {entry.kind}, not a regular file: not read")
                continue
            layout = layout_of(entry.name, platform)
            if isinstance(layout, str):
                yield _read_problem(platform, handle, folder, entry, layout)
                continue
            if layout in seen:
                yield _read_problem(
                    platform, handle, folder, entry, f"a second file for {layout[0]} page {layout[1]}"
                )
                continue
            seen.add(layout)
            try:
                file = folder.read(entry.name)
            except LandingEntryError as error:
                yield _problem(platform, handle, error.where, error.reason)
                continue
            try:
                body = file.content.decode("utf-8")
            except UnicodeDecodeError as error:
                yield _problem(
                    platform,
                    handle,
                    file.where,
                    f"not UTF-8 ({error.reason} at byte {error.start})",
                    file.content,
                )
                continue
            endpoint, page = layout
            document = RawDocument(
                month=month,
                platform=platform,
                account_handle=handle,
                endpoint=endpoint,
                page=page,
                body=body,
                request_url=f"{LOCATION_PREFIX}{file.where}",
                fetched_at=file.modified_at,
                source=self.name,
            )
            yield document
            if document.unusable:  # stored verbatim above; reported here by name, for the same reason
                yield _problem(platform, handle, file.where, document.unusable, file.content)


def layout_of(name: str, platform: str) -> tuple[str, int] | str:
    """A file name's endpoint and page, or why the name is not one of the layout's."""
    match = _FILE_NAME.fullmatch(name)
    if match is None:
        return (
            "not a `<endpoint>[-<page>].json` file (lower-case endpoint, page a number without leading zeros)"
        )
    endpoint, digits = match["endpoint"], match["page"]
    if endpoint not in ENDPOINTS[platform]:
        return f"unknown endpoint {endpoint!r} (known: {', '.join(ENDPOINTS[platform])})"
    page = _page(digits)
    if page is None:
        shown = digits if len(digits) <= 20 else f"{digits[:20]}… ({len(digits)} digits)"
        return f"page {shown} out of range: a page is numbered from 1 to {MAX_PAGE:,}"
    return endpoint, page


def _page(digits: str | None) -> int | None:
    """The page a suffix numbers (none: page 1), or None outside 1-`MAX_PAGE`; the length is checked
    first, so a suffix of thousands of digits is never converted."""
    if digits is None:
        return 1
    if len(digits) > len(str(MAX_PAGE)) or int(digits) > MAX_PAGE:
        return None
    return int(digits)


def _problem(
    platform: str, handle: str | None, where: str, reason: str, content: bytes = b""
) -> SourceProblem:
    return SourceProblem(platform, handle, f"{LOCATION_PREFIX}{where}", reason, content)


def _read_problem(
    platform: str, handle: str | None, folder: Folder, entry: Entry, reason: str
) -> SourceProblem:
    """A regular file that is not a document of the layout, kept with its content."""
    try:
        content = folder.read(entry.name).content
    except LandingEntryError as error:
        return _problem(platform, handle, entry.where, f"{reason}; {error.reason}")
    return _problem(platform, handle, entry.where, reason, content)


def _file_order(entry: Entry) -> tuple[str, int, str]:
    match = _FILE_NAME.fullmatch(entry.name)
    if match is None:
        return ("~", 0, entry.name)
    return (match["endpoint"], _page(match["page"]) or MAX_PAGE + 1, entry.name)


@dataclass(frozen=True)
class Drop:
    """A month whose drop is complete on every platform, and a fingerprint of its markers."""

    month: Month
    fingerprint: str


def complete_drops(landing_dir: Path) -> list[Drop]:
    """Months with a `_COMPLETE` marker (a regular file) for all four platforms; a re-drop changes the
    fingerprint. A platform or month folder that is a link, or a marker that is not a regular file,
    is no drop (the month's pull says why)."""
    tree = LandingTree(landing_dir)
    markers: dict[Month, list[tuple[str, Entry, bytes]]] = {}
    for platform in PLATFORMS:
        try:
            platform_folder = tree.open(platform)
        except LandingEntryError:
            continue
        with platform_folder:
            for entry in platform_folder.entries():
                month = month_named(entry.name)
                if month is None or entry.kind is not Kind.FOLDER:
                    continue
                try:
                    with platform_folder.folder(entry.name) as month_folder:
                        marker = month_folder.entry(COMPLETE_MARKER)
                        if marker is None or marker.kind is not Kind.FILE:
                            continue
                        content = month_folder.read(COMPLETE_MARKER).content
                except LandingEntryError:
                    continue
                markers.setdefault(month, []).append((platform, marker, content))
    drops = []
    for month, found in sorted(markers.items()):
        if len(found) == len(PLATFORMS):
            digest = hashlib.sha256()
            for platform, marker, content in found:
                digest.update(f"{platform}|{marker.mtime_ns}|{marker.size}|".encode())
                digest.update(content)
            drops.append(Drop(month, digest.hexdigest()[:16]))
    return drops


def landing_file(location: str) -> tuple[str, int] | None:
    """The endpoint and page a landing location's file name stands for (`posts-2.json`: posts, 2),
    or None when the location is not in the landing folder or its name is no `<endpoint>[-<page>].json`."""
    if not location.startswith(LOCATION_PREFIX):
        return None
    parts = location.removeprefix(LOCATION_PREFIX).split("/")
    if len(parts) != 4:
        return None
    named = layout_of(parts[3], parts[0]) if parts[0] in ENDPOINTS else None
    return named if isinstance(named, tuple) else None


def month_named(name: str) -> Month | None:
    """The month a landing folder or file stem names exactly (`2024-09`, not `2024-9` or `2024-09-01`),
    or None: a name the layout does not use is not read as a month."""
    try:
        month = Month.parse(name)
    except ValueError:
        return None
    return month if str(month) == name else None
