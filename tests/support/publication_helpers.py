"""A small month to publish without running the graph, typed as the warehouse reads it, and the
invariant every reader of publications relies on."""

from __future__ import annotations

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.publication.integrity import verify_publication
from cityindex_pipeline.publication.records import CONTENT_COLUMNS, Provenance
from cityindex_pipeline.warehouse.archive import versions_in
from cityindex_pipeline.warehouse.store import Warehouse

SEPTEMBER = Month(2024, 9)
INTEGER_COLUMNS = ("rank", "previous_rank", "rank_change", "rank_p05", "rank_p95")
"""INTEGER in publish.index: DuckDB reads them as Int32."""


def rows(score_of_a: float = 80.0) -> pl.DataFrame:
    base = {column: None for column in CONTENT_COLUMNS}
    frame = pl.DataFrame(
        [
            base | {"city_id": "a", "name_en": "A", "name_zh": "甲", "rank": 1, "score": score_of_a,
                    "quantitative_score": 75.0, "qualitative_score": 100.0},
            base | {"city_id": "b", "name_en": "B", "name_zh": "乙", "rank": 2, "score": 10.0,
                    "quantitative_score": 5.0, "qualitative_score": 30.0},
        ]
    )  # fmt: skip
    return frame.with_columns(
        *(pl.col(c).cast(pl.Int32) for c in INTEGER_COLUMNS),
        *(
            pl.col(c).cast(pl.Float64)
            for c in CONTENT_COLUMNS
            if c.endswith(("score", "score_change", "median_rank"))
        ),
        pl.col("rank_robust").cast(pl.Boolean),
    )


def provenance(inputs: str = "inputs-1", methodology: str = "0.2.0") -> Provenance:
    return Provenance(
        methodology_version=methodology,
        registry_version="registry-1",
        pull_ids=["x-2024-09-1"],
        inputs_sha256=inputs,
        raw_documents=12,
        qualitative_sha256="panel-1",
        code_version="cityindex 0.1.0, commit " + "0" * 40,
    )


def assert_whole(warehouse: Warehouse, exports, month: Month = SEPTEMBER) -> None:
    """No export or archive copy without its committed version, no version without both, no staging
    left, and every version intact against its manifest and digest."""
    records = warehouse.publications(month)
    versions = set(records["version"].to_list())
    placed, staged = versions_in(exports / str(month))
    assert set(placed) == versions and not staged, (sorted(placed), sorted(p.name for p in staged))
    copies, staged_copies = versions_in(warehouse.archive.publication_folder(month))
    assert set(copies) == versions and not staged_copies, (
        sorted(copies),
        sorted(p.name for p in staged_copies),
    )
    for record in records.iter_rows(named=True):
        assert verify_publication(warehouse, exports, month, record) == [], record["version"]


def files_of(folder) -> dict[str, bytes]:
    """Every file under a folder, by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
