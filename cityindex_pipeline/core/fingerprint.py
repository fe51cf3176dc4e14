"""Fingerprints of data: what an asset wrote for a month, and which raw documents a pull holds.

Recorded on every materialisation (`data_sha256`), so two materialisations of a month can be told
apart or matched by their content alone, whatever run ids and times they carry. Each can be
recomputed outside the project from the rows: the canonical form is spelled out below.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import polars as pl

PROVENANCE_COLUMNS = ("month", "run_id", "pull_id", "fetched_at")
"""Which month, run and pull wrote a row, and when the pull fetched it: where and when, not what.
Left out, so that a month pulled and computed again from identical documents keeps its fingerprint
(each row still carries the sha256 of its raw document, which is content)."""


ROWS_PER_CHUNK = 65_536
"""Rows serialised at a time: a month of posts as one JSON text, then as Python strings, took more
memory than the posts themselves."""


def frame_sha256(frame: pl.DataFrame, rows_per_chunk: int = ROWS_PER_CHUNK) -> str:
    """sha256 of the rows as JSON lines (columns in name order, `PROVENANCE_COLUMNS` left out, lines
    sorted, each ending in a newline): independent of row order and of the run that wrote them.

    The lines are those of `write_ndjson().splitlines()` over the whole frame, made a chunk of rows
    at a time (each chunk's text ends at a row's end, so its lines are the same) and sorted as one
    string column (UTF-8 byte order is Python's code point order)."""
    content = frame.select(sorted(c for c in frame.columns if c not in PROVENANCE_COLUMNS))
    lines = pl.concat(
        [
            pl.Series(chunk.write_ndjson().splitlines(), dtype=pl.String)
            for chunk in content.iter_slices(rows_per_chunk)
        ]
        or [pl.Series(dtype=pl.String)]
    ).sort()
    digest = hashlib.sha256()
    for start in range(0, lines.len(), rows_per_chunk):
        ended = lines.slice(start, rows_per_chunk) + "\n"
        digest.update(ended.str.join("").cast(pl.Binary).item())
    return digest.hexdigest()


def tables_sha256(frames: Mapping[str, pl.DataFrame]) -> str:
    """One digest over several tables written together: `table<TAB>frame_sha256` lines, by table name."""
    text = "".join(f"{table}\t{frame_sha256(frames[table])}\n" for table in sorted(frames))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_lines(documents: pl.DataFrame) -> list[str]:
    """`platform|account_handle|endpoint|page|sha256` of each raw document, sorted."""
    if not documents.height:
        return []
    return (
        documents.select(
            pl.concat_str(
                "platform",
                "account_handle",
                "endpoint",
                pl.col("page").cast(pl.String),
                "sha256",
                separator="|",
            )
        )
        .to_series()
        .sort()
        .to_list()
    )


def documents_sha256(documents: pl.DataFrame) -> str:
    """sha256 over `document_lines`, each ending in a newline: which documents, by their own sha256."""
    digest = hashlib.sha256()
    for line in document_lines(documents):
        digest.update(line.encode("utf-8") + b"\n")
    return digest.hexdigest()
