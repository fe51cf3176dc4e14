"""The code location of a bench backfill at a scale: the project's definitions, with the registry
scaled by `CITYINDEX_BENCH_SCALE` (k copies of every account, `benchmarks.scale`) in every process
that loads it (webserver, daemon, code server, each run). Bench processes only; the bench writes a
workspace file naming this module, and the shipped `workspace.yaml` is untouched."""

import os

from benchmarks.scale import BENCH_SCALE_VARIABLE, registry_scaled
from cityindex_pipeline.definitions import defs

# entered for the process's life: the context is kept, or collecting it would undo the scaling at once
SCALED = registry_scaled(int(os.environ.get(BENCH_SCALE_VARIABLE, "1")))
SCALED.__enter__()

__all__ = ["defs"]
