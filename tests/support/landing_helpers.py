"""Lay documents out as a monitoring vendor's landing folder would hold them."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.panel import panel_path, simulate_panel
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.base import RawDocument
from cityindex_pipeline.sources.landing import COMPLETE_MARKER
from cityindex_pipeline.sources.simulated import SimulatedSource

SIMULATED_SEED = 20240901
"""The default `CITYINDEX_SEED`, as the tests' settings use it."""


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


def lay_out_month(
    landing_dir: Path, month: Month, overlay: Path | None = None, *, seed: int = SIMULATED_SEED
) -> None:
    """A vendor's drop: the simulated month of every registered account, and the month's expert
    panel file (the simulated panel's invented scores, so that the index matches the simulated
    source's). An `overlay` folder laid out the same way replaces (or adds) whole account folders."""
    registry = load_registry()
    panel = panel_path(landing_dir, month)
    panel.parent.mkdir(parents=True, exist_ok=True)
    simulate_panel(registry.cities["city_id"].to_list(), month, seed).select(
        "city_id", "rater", "criterion", "score"
    ).write_csv(panel)
    for platform in PLATFORMS:
        write_landing(landing_dir, SimulatedSource().pull(month, platform, registry.accounts_for(platform)))
        month_overlay = overlay / platform / str(month) if overlay else None
        if month_overlay is None or not month_overlay.is_dir():
            continue
        for folder in month_overlay.iterdir():
            target = landing_dir / platform / str(month) / folder.name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(folder, target)
