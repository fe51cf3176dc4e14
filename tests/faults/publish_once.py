"""Publish the small month of `publication_helpers` into a home, as `published_index` does, and print
the version; with `KILL_AT=publish:<step>` (see kill_during.py) the process kills itself after that
step. Usage: publish_once.py HOME SCORE"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kill_during import arm
from support.publication_helpers import SEPTEMBER, provenance, rows

from cityindex_pipeline.publication.publish import publish_month
from cityindex_pipeline.warehouse.store import Warehouse

if __name__ == "__main__":
    home, score = Path(sys.argv[1]), float(sys.argv[2])
    if os.environ.get("KILL_AT"):
        arm(os.environ["KILL_AT"])
    published = publish_month(
        Warehouse(home / "warehouse.duckdb"),
        SEPTEMBER,
        f"run-{score}",
        rows(score),
        provenance=provenance(f"inputs-{score}"),
        exports_dir=home / "exports",
    )
    for line in published.healed:
        print(f"healed: {line}")
    print(f"v{published.version} {'published' if published.created else 'unchanged'}")
