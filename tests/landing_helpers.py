"""Lay documents out as a monitoring vendor's landing folder would hold them."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from cityindex_pipeline import PLATFORMS
from cityindex_pipeline.months import Month
from cityindex_pipeline.registry import load_registry
from cityindex_pipeline.sources.base import RawDocument
from cityindex_pipeline.sources.landing import COMPLETE_MARKER
from cityindex_pipeline.sources.simulated import SimulatedSource


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


def lay_out_month(landing_dir: Path, month: Month, overlay: Path | None = None) -> None:
    """The simulated month of every registered account as a complete drop; an `overlay` folder laid
    out the same way replaces (or adds) whole account folders."""
    registry = load_registry()
    for platform in PLATFORMS:
        write_landing(landing_dir, SimulatedSource().pull(month, platform, registry.accounts_for(platform)))
        month_overlay = overlay / platform / str(month) if overlay else None
        if month_overlay is None or not month_overlay.is_dir():
            continue
        for folder in month_overlay.iterdir():
            target = landing_dir / platform / str(month) / folder.name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(folder, target)
