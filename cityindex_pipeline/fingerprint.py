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


def frame_sha256(frame: pl.DataFrame) -> str:
    """sha256 of the rows as JSON lines (columns in name order, `PROVENANCE_COLUMNS` left out, lines
    sorted, each ending in a newline): independent of row order and of the run that wrote them."""
    content = frame.select(sorted(c for c in frame.columns if c not in PROVENANCE_COLUMNS))
    lines = sorted(content.write_ndjson().splitlines()) if content.height else []
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
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
