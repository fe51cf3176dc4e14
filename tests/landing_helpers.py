"""Lay documents out as a monitoring vendor's landing folder would hold them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cityindex_pipeline.sources.base import RawDocument
from cityindex_pipeline.sources.landing import COMPLETE_MARKER


def write_landing(
    landing_dir: Path, documents: Iterable[RawDocument], *, complete: bool = True
) -> list[Path]:
    """`landing/<platform>/<YYYY-MM>/<handle>/<endpoint>[-<page>].json`, page 1 without a suffix."""
    written = []
    folders = set()
    for doc in documents:
        folder = landing_dir / doc.platform / str(doc.month)
        name = f"{doc.endpoint}.json" if doc.page == 1 else f"{doc.endpoint}-{doc.page}.json"
        path = folder / doc.account_handle / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc.body, encoding="utf-8")
        written.append(path)
        folders.add(folder)
    if complete:
        for folder in folders:
            (folder / COMPLETE_MARKER).write_text("", encoding="utf-8")
    return written
