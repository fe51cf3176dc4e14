"""The terms a platform's set-wise reader is written in: what a plain value looks like to DuckDB.

A document is read set-wise (`setwise.py`) only when every value in it has the plain shape the
parsers accept without question. The macros here check and read one JSON leaf as DuckDB writes it
back out (`json_transform` with leaves as JSON text); `PostReader` is how a platform module states
its own reader in them, beside its record parser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from cityindex_pipeline.parsing.document import EARLIEST_TIME, LATEST_TIME

JSON = "JSON"
"""A leaf of a body's structure, kept as JSON text for the macros to check."""

_TIME = (
    r'"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]'
    r'(\.[0-9]{3}|\.[0-9]{6})?(Z|[+-](0[0-9]|1[0-4]):?[0-5][0-9])"'
)
_EARLIEST_US, _LATEST_US = (int(moment.timestamp()) * 1_000_000 for moment in (EARLIEST_TIME, LATEST_TIME))
MACROS = f"""
CREATE MACRO all_of(l) AS coalesce(list_bool_and(l), true);
CREATE MACRO count_ok(t) AS CAST(t AS VARCHAR) IS NULL OR regexp_full_match(CAST(t AS VARCHAR), '[0-9]{{1,15}}');
CREATE MACRO count_of(t) AS CAST(CAST(t AS VARCHAR) AS BIGINT);
CREATE MACRO string_count_ok(t) AS CAST(t AS VARCHAR) IS NULL OR regexp_full_match(CAST(t AS VARCHAR), '"[0-9]{{1,15}}"');
CREATE MACRO string_count_of(t) AS CAST(CAST(t AS VARCHAR)[2:-2] AS BIGINT);
CREATE MACRO text_ok(t) AS CAST(t AS VARCHAR) IS NULL OR CAST(t AS VARCHAR)[1] = '"';
CREATE MACRO text_of(t) AS CASE WHEN CAST(t AS VARCHAR)[1] = '"' THEN
    CASE WHEN contains(CAST(t AS VARCHAR), '\\') THEN json_extract_string(CAST(t AS VARCHAR), '$') ELSE CAST(t AS VARCHAR)[2:-2] END END;
CREATE MACRO id_ok(t) AS regexp_full_match(CAST(t AS VARCHAR), '"[0-9A-Za-z_.:-]+"|[0-9]+');
CREATE MACRO id_of(t) AS CASE WHEN CAST(t AS VARCHAR)[1] = '"' THEN CAST(t AS VARCHAR)[2:-2] ELSE CAST(t AS VARCHAR) END;
CREATE MACRO time_ok(t) AS regexp_full_match(CAST(t AS VARCHAR), '{_TIME}')
    AND coalesce(epoch_us(try_cast(CAST(t AS VARCHAR)[2:-2] AS TIMESTAMPTZ)) BETWEEN {_EARLIEST_US} AND {_LATEST_US} - 1, false);
CREATE MACRO time_of(t) AS make_timestamp(epoch_us(CAST(CAST(t AS VARCHAR)[2:-2] AS TIMESTAMPTZ)));
"""
"""Counts: an integer literal below 2^53 (16 digits may exceed it: left to the parsers). Ids: a plain
string or integer. Texts: JSON strings, unescaped only when they hold an escape. Times: the APIs'
ISO 8601 forms, between `EARLIEST_TIME` and `LATEST_TIME`. A struct whose fields all read NULL may have been a non-object, which the lenient `json_transform` does not tell apart: such records go to the parsers."""


def every(conditions: Iterable[str]) -> str:
    """All of the conditions."""
    return " AND ".join(f"({condition})" for condition in conditions)


def struct_ok(struct: str, *fields: str) -> str:
    """An optional object: absent, or an object with at least one of the fields it is read for."""
    present = " OR ".join(f"{struct}.{field} IS NOT NULL" for field in fields)
    return f"({struct} IS NULL OR ({present}))"


def media_type(expression: str, mapping: dict[str, str]) -> str:
    """A platform's own type mapped onto the content types, as its parser maps it ('other' if unknown)."""
    cases = " ".join(f"WHEN '{key}' THEN '{value}'" for key, value in mapping.items())
    return f"CASE {expression} {cases} ELSE 'other' END"


@dataclass(frozen=True)
class PostReader:
    """A body's structure (`json_transform`, leaves as JSON text), the check that a document has the
    plain shape, the records' list, the check of a record and the columns read from it. Optionally:
    macros of the platform's own that the checks and columns use, and a list of the document's media
    read beside the records (`media`, with the columns key, type and view_count) that `with_media`
    joins to the rows by the records' `_media_keys`."""

    structure: dict[str, Any]
    document_ok: str
    records: str
    record_ok: str
    columns: dict[str, str]
    macros: str = ""
    media: str | None = None
    with_media: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame] | None = None
