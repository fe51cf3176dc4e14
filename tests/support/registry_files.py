"""Broken copies of the registry files, for the tests that they are refused with file, line and row."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cityindex_pipeline.reference.registry import (
    DEFAULT_ACCOUNTS_CSV,
    DEFAULT_CITIES_CSV,
    RegistryError,
    load_registry,
)

CITIES_TEXT = DEFAULT_CITIES_CSV.read_text(encoding="utf-8")
ACCOUNTS_TEXT = DEFAULT_ACCOUNTS_CSV.read_text(encoding="utf-8")


def write_registry(
    tmp_path: Path, cities: str = CITIES_TEXT, accounts: str = ACCOUNTS_TEXT
) -> tuple[Path, Path]:
    """A registry copy in tmp_path; the file names stay cities.csv / accounts.csv."""
    cities_csv, accounts_csv = tmp_path / "cities.csv", tmp_path / "accounts.csv"
    cities_csv.write_text(cities, encoding="utf-8")
    accounts_csv.write_text(accounts, encoding="utf-8")
    return cities_csv, accounts_csv


def line_of(text: str, prefix: str) -> int:
    """The 1-based line number of the first line starting with prefix."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if line.startswith(prefix))


def with_field(text: str, line: int, column: str, value: str) -> str:
    """The CSV text with one cell replaced."""
    rows = list(csv.reader(io.StringIO(text)))
    rows[line - 1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def without_lines(text: str, prefix: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(prefix))


def expect_error(
    tmp_path: Path, pattern: str, *, cities: str = CITIES_TEXT, accounts: str = ACCOUNTS_TEXT
) -> None:
    with pytest.raises(RegistryError, match=pattern):
        load_registry(*write_registry(tmp_path, cities, accounts))
