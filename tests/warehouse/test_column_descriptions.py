"""Every column says what it holds, once: the declaration, and the warehouse's column comments made from it."""

from __future__ import annotations

import duckdb
import pytest

from cityindex_pipeline.warehouse.columns import INTEGER, VARCHAR, Table, undescribed
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import DECLARED, create_tables


def _comments(path) -> dict[str, str | None]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            f"{schema}.{table}.{column}": comment
            for schema, table, column, comment in con.sql(
                "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns()"
                " WHERE schema_name IN ('raw', 'clean', 'idx', 'publish')"
            ).fetchall()
        }


def test_every_declared_column_says_more_than_its_type_and_constraint():
    assert undescribed(DECLARED) == []


def test_a_description_that_is_empty_or_only_a_type_or_constraint_is_refused():
    table = Table(
        VARCHAR("empty", doc=""),
        VARCHAR("typed", doc="VARCHAR NOT NULL"),
        INTEGER("nullable", doc="nullable integer"),
        VARCHAR("keyed", doc="primary key"),
        VARCHAR("said", doc="the pull that stored the document"),
    )
    assert undescribed({"t": table}) == ["t.empty", "t.typed", "t.nullable", "t.keyed"]


def test_a_fresh_warehouse_carries_each_description_as_its_column_comment(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).ensure_schema()
    comments = _comments(path)
    declared = {f"{table}.{column.name}": column.doc for table, t in DECLARED.items() for column in t.columns}
    assert comments == declared
    quoted = comments["clean.account_metrics.followers_previous"]
    assert quoted.startswith("followers at the end of the previous month, from that month's account metrics")


def test_a_comment_that_differs_is_rewritten_once_then_the_warehouse_is_only_read(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).ensure_schema()
    with duckdb.connect(str(path)) as con:
        con.execute("COMMENT ON COLUMN clean.posts.likes IS 'an older text'")
        con.execute("COMMENT ON COLUMN idx.platform_index.score IS NULL")
    with duckdb.connect(str(path), read_only=True) as con, pytest.raises(duckdb.Error, match="read-only"):
        create_tables(con, path)  # a stale description is written, so a read-only opening cannot pass
    Warehouse(path).ensure_schema()
    comments = _comments(path)
    posts = {c.name: c.doc for c in DECLARED["clean.posts"].columns}
    assert comments["clean.posts.likes"] == posts["likes"]
    index = {c.name: c.doc for c in DECLARED["idx.platform_index"].columns}
    assert comments["idx.platform_index.score"] == index["score"]
    with duckdb.connect(str(path), read_only=True) as con:
        create_tables(con, path)  # as declared again: only read
