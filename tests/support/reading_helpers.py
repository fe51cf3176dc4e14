"""Documents as the readers take them, and the check that the set-wise reading is the parsers' own."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from cityindex_pipeline.parsing.setwise import _parse_record_by_record, read_documents


def frame_of(platform: str, documents: list[tuple[str, str]]) -> pl.DataFrame:
    """(endpoint, body) pairs as the readers take them, each with its `doc_index`."""
    return pl.DataFrame(
        documents, schema={"endpoint": pl.String, "body": pl.String}, orient="row"
    ).with_row_index("doc_index")


def assert_same_reading(platform: str, documents: pl.DataFrame) -> None:
    """The set-wise reading gives the parsers' rows and rejections, reasons included, document by document."""
    setwise = read_documents(platform, documents)
    by_record = _parse_record_by_record(platform, documents)
    for part in ("posts", "insights", "profiles", "rejected"):
        mine, theirs = getattr(setwise, part), getattr(by_record, part)
        order = mine.columns[:2]
        assert_frame_equal(mine.sort(order, maintain_order=True), theirs.sort(order, maintain_order=True))
