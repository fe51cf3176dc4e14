"""Where raw platform documents come from: the simulator, a landing folder, or the live APIs."""

from __future__ import annotations

from pathlib import Path

from cityindex_pipeline.sources.base import ENDPOINTS, Account, RawDocument, Source


class SourceUnavailableError(RuntimeError):
    """The configured source cannot run here; the message says what to do instead."""


def make_source(kind: str, *, seed: int, landing_dir: Path) -> Source:
    """Build the source named by `CITYINDEX_SOURCE`."""
    if kind == "simulated":
        from cityindex_pipeline.sources.simulated import SimulatedSource

        return SimulatedSource(seed=seed)
    if kind in ("files", "api"):
        raise SourceUnavailableError(
            f"CITYINDEX_SOURCE={kind} is not available in this version of cityindex; "
            "use CITYINDEX_SOURCE=simulated (the default)"
        )
    raise SourceUnavailableError(f"unknown source {kind!r}; expected simulated, files or api")


__all__ = ["ENDPOINTS", "Account", "RawDocument", "Source", "SourceUnavailableError", "make_source"]
