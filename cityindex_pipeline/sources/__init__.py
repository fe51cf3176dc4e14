"""Where raw platform documents come from: the simulator, a landing folder, or the live APIs."""

from __future__ import annotations

from pathlib import Path

from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.base import ENDPOINTS, RawDocument, Source, SourceError, SourceProblem


class SourceUnavailableError(SourceError):
    """The configured source cannot run here; the message says what to do instead."""


def make_source(kind: str, *, seed: int, landing_dir: Path) -> Source:
    """Build the source named by `CITYINDEX_SOURCE`: simulated (default), files or api."""
    if kind == "simulated":
        from cityindex_pipeline.sources.simulated import SimulatedSource

        return SimulatedSource(seed=seed)
    if kind == "files":
        from cityindex_pipeline.sources.landing import LandingSource

        return LandingSource(landing_dir)
    if kind == "api":
        from cityindex_pipeline.sources.api import ApiSource

        return ApiSource()
    raise SourceUnavailableError(f"unknown source {kind!r}; expected simulated, files or api")


__all__ = [
    "ENDPOINTS",
    "Account",
    "RawDocument",
    "Source",
    "SourceError",
    "SourceProblem",
    "SourceUnavailableError",
    "make_source",
]
