"""The landing-folder source: response bodies a monitoring vendor drops as files.

Layout: `landing/<platform>/<YYYY-MM>/<account_handle>/<endpoint>[-<page>].json`, each file one
response body exactly as the platform returned it (`posts.json` is page 1, `posts-2.json` page 2).
A platform's month is complete when `landing/<platform>/<YYYY-MM>/_COMPLETE` exists; until then
it is not read. Every file is stored verbatim; files that cannot be used are reported by name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cityindex_pipeline import PLATFORMS
from cityindex_pipeline.months import Month
from cityindex_pipeline.parsing.document import MAX_PAGE
from cityindex_pipeline.sources.base import ENDPOINTS, Account, RawDocument, SourceError, SourceProblem

COMPLETE_MARKER = "_COMPLETE"
_FILE_NAME = re.compile(r"^(?P<endpoint>[a-z_]+?)(?:-(?P<page>[1-9][0-9]*))?\.json$")


class LandingSource:
    """Reads a month's drop from `landing_dir`; no network, no credentials."""

    name = "files"

    def __init__(self, landing_dir: Path) -> None:
        self.landing_dir = Path(landing_dir)

    def month_dir(self, platform: str, month: Month) -> Path:
        return self.landing_dir / platform / str(month)

    def pull(
        self, month: Month, platform: str, accounts: Iterable[Account]
    ) -> Iterator[RawDocument | SourceProblem]:
        folder = self.month_dir(platform, month)
        if not folder.is_dir():
            raise SourceError(f"no {platform} drop for {month}: expected the folder {self._where(folder)}")
        if not (folder / COMPLETE_MARKER).exists():
            raise SourceError(
                f"the {platform} drop for {month} is not complete: {self._where(folder / COMPLETE_MARKER)} is missing"
            )
        wanted = {a.account_handle for a in accounts if a.platform == platform and a.active_in(month)}
        for account_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            handle = account_dir.name
            if handle not in wanted:  # stored anyway (cleaning quarantines it), and reported
                yield self._problem(
                    platform, handle, account_dir, "an account folder not in the registry for this month"
                )
            yield from self._account_files(month, platform, handle, account_dir)
        for stray in sorted(p for p in folder.iterdir() if p.is_file() and p.name != COMPLETE_MARKER):
            yield self._problem(platform, None, stray, "a file outside any account folder")

    def _account_files(
        self, month: Month, platform: str, handle: str, account_dir: Path
    ) -> Iterator[RawDocument | SourceProblem]:
        seen: set[tuple[str, int]] = set()
        for path in sorted(account_dir.iterdir(), key=_file_order):
            if path.name.startswith("."):
                continue
            match = _FILE_NAME.match(path.name)
            if not path.is_file() or match is None:
                yield self._problem(platform, handle, path, "not a `<endpoint>[-<page>].json` file")
                continue
            endpoint, page = match["endpoint"], _page(match)
            if page > MAX_PAGE:
                yield self._problem(
                    platform, handle, path, f"page {match['page'][:20]} is out of range (1 to {MAX_PAGE})"
                )
                continue
            if endpoint not in ENDPOINTS[platform]:
                known = ", ".join(ENDPOINTS[platform])
                yield self._problem(platform, handle, path, f"unknown endpoint {endpoint!r} (known: {known})")
                continue
            if (endpoint, page) in seen:
                yield self._problem(platform, handle, path, f"a second file for {endpoint} page {page}")
                continue
            seen.add((endpoint, page))
            content = path.read_bytes()
            try:
                body = content.decode("utf-8")
            except UnicodeDecodeError as error:
                yield self._problem(
                    platform, handle, path, f"not UTF-8 ({error.reason} at byte {error.start})"
                )
                continue
            fetched_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            document = RawDocument(
                month=month,
                platform=platform,
                account_handle=handle,
                endpoint=endpoint,
                page=page,
                body=body,
                request_url=f"landing://{self._where(path)}",
                fetched_at=fetched_at,
                source=self.name,
            )
            yield document
            if document.unusable:  # stored verbatim above; reported here by name, for the same reason
                yield self._problem(platform, handle, path, document.unusable)

    def _problem(self, platform: str, handle: str | None, path: Path, reason: str) -> SourceProblem:
        content = path.read_bytes() if path.is_file() else b""
        return SourceProblem(platform, handle, f"landing://{self._where(path)}", reason, content)

    def _where(self, path: Path) -> str:
        """A path relative to the landing folder: where a file is, without this machine's layout."""
        try:
            return path.relative_to(self.landing_dir).as_posix()
        except ValueError:
            return path.name


def _file_order(path: Path) -> tuple[str, int, str]:
    match = _FILE_NAME.match(path.name)
    if match is None:
        return ("~", 0, path.name)
    return (match["endpoint"], _page(match), path.name)


def _page(match: re.Match[str]) -> int:
    """The page of a file name; a number of more digits than any page has reads as beyond MAX_PAGE."""
    digits = match["page"] or "1"
    return int(digits) if len(digits) <= len(str(MAX_PAGE)) else MAX_PAGE + 1


@dataclass(frozen=True)
class Drop:
    """A month whose drop is complete on every platform, and a fingerprint of its markers."""

    month: Month
    fingerprint: str


def complete_drops(landing_dir: Path) -> list[Drop]:
    """Months with a `_COMPLETE` marker for all four platforms; a re-drop changes the fingerprint."""
    months: dict[str, list[Path]] = {}
    for platform in PLATFORMS:
        for marker in sorted((landing_dir / platform).glob(f"*/{COMPLETE_MARKER}")):
            months.setdefault(marker.parent.name, []).append(marker)
    drops = []
    for name, markers in sorted(months.items()):
        try:
            month = Month.parse(name)
        except ValueError:
            continue
        if len(markers) == len(PLATFORMS):
            digest = hashlib.sha256()
            for marker in markers:
                stat = marker.stat()
                digest.update(f"{marker.parent.parent.name}|{stat.st_mtime_ns}|{stat.st_size}|".encode())
                digest.update(marker.read_bytes())
            drops.append(Drop(month, digest.hexdigest()[:16]))
    return drops
