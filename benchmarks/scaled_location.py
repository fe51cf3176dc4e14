"""The code location of a bench backfill at a scale: the project's definitions, with the registry
scaled by `CITYINDEX_BENCH_SCALE` (k copies of every account, `benchmarks.scale`) in every process
that loads it (webserver, daemon, code server, each run). Bench processes only; the bench writes a
workspace file naming this module, and the shipped `workspace.yaml` is untouched."""

import os

from benchmarks.scale import BENCH_SCALE_VARIABLE, registry_scaled
from cityindex_pipeline.definitions import defs

registry_scaled(int(os.environ.get(BENCH_SCALE_VARIABLE, "1"))).__enter__()  # for the process's life

__all__ = ["defs"]
