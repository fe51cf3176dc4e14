"""Run the `cityindex` command and kill its own process with SIGKILL at a chosen write, as an OOM
kill or a pulled plug would: no exception handler, no `finally`, no clean-up runs.

`KILL_AT` says where:
- `store_accounts:N`: right after the N-th batch of a raw pull is committed (batches of 10
  accounts here), so the pull is left half-way;
- `insert:<schema.table>`: inside the transaction that writes the month to that table, after its
  rows went in and before the commit;
- `publish:<step>`: right after that step of publishing (`publication.PUBLISH_STEPS`: `stage_export`,
  `stage_archive` inside the transaction, `commit`, `place_archive`, `place_export`).
"""

from __future__ import annotations

import os
import signal
import sys

from cityindex_pipeline.publication import publish as publication
from cityindex_pipeline.sources import ingest
from cityindex_pipeline.warehouse import archive
from cityindex_pipeline.warehouse import store as storage

PUBLISH_STEPS = {
    "stage_export": (publication, "stage_export"),
    "stage_archive": (archive.Archive, "stage_publication"),
    "commit": (publication, "commit"),
    "place_archive": (publication, "place_archive"),
    "place_export": (publication, "place_export"),
}
"""Where each step of publishing is done, to wrap."""
assert tuple(PUBLISH_STEPS) == publication.PUBLISH_STEPS


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(target: str) -> None:
    kind, _, argument = target.partition(":")
    if kind == "store_accounts":
        ingest.FLUSH_ACCOUNTS = 10
        store_accounts, batches = storage.Warehouse.store_accounts, []

        def store_then_die(self: storage.Warehouse, batch: list) -> None:
            store_accounts(self, batch)
            batches.extend([None] if batch else [])
            if len(batches) == int(argument):
                _die()

        storage.Warehouse.store_accounts = store_then_die
    elif kind == "insert":
        insert = storage._insert

        def insert_then_die(connection, table, frame) -> None:
            insert(connection, table, frame)
            if table == argument:
                _die()

        storage._insert = insert_then_die
    elif kind == "publish" and argument in PUBLISH_STEPS:
        owner, name = PUBLISH_STEPS[argument]
        step = getattr(owner, name)

        def step_then_die(*args, **kwargs):
            step(*args, **kwargs)
            _die()

        setattr(owner, name, step_then_die)
    else:
        raise SystemExit(
            f"KILL_AT must be store_accounts:N, insert:<table> or publish:<step>, not {target!r}"
        )


if __name__ == "__main__":
    arm(os.environ["KILL_AT"])
    from cityindex_pipeline.cli.main import main

    sys.argv = ["cityindex", *sys.argv[1:]]
    main()
