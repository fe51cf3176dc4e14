"""The account registry: which cities the index covers and which accounts speak for each of them.

Two CSV files, kept in version control, are the whole registry. They are read as text, validated row by
row (so a mistake is reported with its file and line instead of surfacing later as a wrong score), typed,
and fingerprinted so every run can record which registry it used.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS


@dataclass(frozen=True)
class Account:
    """One official account of a city on one platform, as the registry lists it."""

    city_id: str
    platform: str
    account_handle: str
    platform_account_id: str
    display_name: str
    started_on: date

    def active_in(self, month: Month) -> bool:
        """An account counts from the month it was opened."""
        return Month.of(self.started_on) <= month


DATA_DIR = Path(__file__).resolve().parents[1] / "data"
DEFAULT_CITIES_CSV: Path = DATA_DIR / "cities.csv"
DEFAULT_ACCOUNTS_CSV: Path = DATA_DIR / "accounts.csv"

TIERS = ("municipality", "sub-provincial", "provincial-capital", "prefecture")
PROVENANCES = ("invented", "verified")

CITY_COLUMNS = (
    "city_id",
    "name_en",
    "name_zh",
    "province_en",
    "province_zh",
    "tier",
    "longitude",
    "latitude",
)
ACCOUNT_COLUMNS = (
    "city_id",
    "platform",
    "account_handle",
    "platform_account_id",
    "display_name",
    "started_on",
    "provenance",
)

LONGITUDE_RANGE = (73.0, 136.0)
LATITUDE_RANGE = (18.0, 54.0)
"""China's bounding box: a coordinate outside it is a typo or swapped longitude/latitude."""

_CITY_ID = r"^[a-z0-9][a-z0-9_-]*$"
_SAFE_HANDLE = r"^[A-Za-z0-9_.-]*[A-Za-z0-9_-][A-Za-z0-9_.-]*$"
"""Letters, digits, `_`, `.` and `-`, not dots only: the handle names a landing directory."""

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_INDEX = "__row_index"
_MAX_LISTED_LINES = 10


def is_safe_handle(name: str) -> bool:
    """Whether `name` can be an account handle, and so name an account's landing folder."""
    return re.fullmatch(_SAFE_HANDLE, name) is not None


class RegistryError(ValueError):
    """A registry file that cannot be used; the message names the file, the line and the row."""


@dataclass(frozen=True, eq=False)
class Registry:
    """The validated, typed registry. `source_sha256` is the fingerprint of the files it was read from."""

    cities: pl.DataFrame
    accounts: pl.DataFrame
    source_sha256: str = field(default="", repr=False)

    def accounts_for(self, platform: str) -> list[Account]:
        """The accounts a pull of `platform` covers, in a stable order (by handle)."""
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
        names = [f.name for f in fields(Account)]
        rows = self.accounts.filter(pl.col("platform") == platform).sort("account_handle")
        return [Account(**{name: row[name] for name in names}) for row in rows.iter_rows(named=True)]

    def find_city(self, name: str) -> dict[str, Any]:
        """Look a city up the way people write it: id, English name (any case, apostrophe optional) or 中文."""
        key = _name_key(name)
        rows = list(self.cities.iter_rows(named=True))
        matches = [row for row in rows if key in _city_keys(row)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(_label(row) for row in matches)
            raise KeyError(f"{name!r} is ambiguous: it names {listed}; use the city_id")
        raise KeyError(f"no city matches {name!r}; {_suggestions(key, rows)}")

    @property
    def version(self) -> str:
        """Fingerprint of the registry files, recorded with every run."""
        if self.source_sha256:
            return self.source_sha256
        return registry_digest(self.cities.write_csv().encode(), self.accounts.write_csv().encode())


def load_registry(
    cities_csv: Path = DEFAULT_CITIES_CSV, accounts_csv: Path = DEFAULT_ACCOUNTS_CSV
) -> Registry:
    """Read both files as text, validate them, then type the columns."""
    cities_csv, accounts_csv = Path(cities_csv), Path(accounts_csv)
    cities_bytes, accounts_bytes = cities_csv.read_bytes(), accounts_csv.read_bytes()
    cities = _read_csv(cities_bytes, str(cities_csv))
    accounts = _read_csv(accounts_bytes, str(accounts_csv))
    validate_registry(cities, accounts, cities_name=str(cities_csv), accounts_name=str(accounts_csv))
    return Registry(
        cities=_typed_cities(cities),
        accounts=_typed_accounts(accounts),
        source_sha256=registry_digest(cities_bytes, accounts_bytes),
    )


def registry_digest(cities_bytes: bytes, accounts_bytes: bytes) -> str:
    """sha256 over both files, each prefixed by its length so no byte can move unnoticed between them."""
    digest = hashlib.sha256()
    for data in (cities_bytes, accounts_bytes):
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def validate_registry(
    cities: pl.DataFrame,
    accounts: pl.DataFrame,
    *,
    cities_name: str = "cities.csv",
    accounts_name: str = "accounts.csv",
) -> None:
    """Raise RegistryError on the first rule a row breaks. Line numbers assume one row per line, header = 1."""
    cities_text = _as_text(cities, CITY_COLUMNS, cities_name)
    accounts_text = _as_text(accounts, ACCOUNT_COLUMNS, accounts_name)
    if cities_text.is_empty():
        raise RegistryError(f"{cities_name}: no cities")
    _check(cities_text, _city_rules(cities_text), CITY_COLUMNS, cities_name)
    city_ids = cities_text.get_column("city_id")
    _check(accounts_text, _account_rules(accounts_text, city_ids), ACCOUNT_COLUMNS, accounts_name)
    covered = accounts_text.get_column("city_id")
    _check(
        cities_text,
        [
            _Rule(
                ~pl.col("city_id").is_in(covered.implode()),
                lambda row: f"city {row['city_id']!r} has no account",
            )
        ],
        CITY_COLUMNS,
        cities_name,
    )


@dataclass(frozen=True)
class _Rule:
    """Rows where `broken` holds break the rule; `problem` says how, for the first of them."""

    broken: pl.Expr
    problem: Callable[[dict[str, Any]], str]


def _read_csv(data: bytes, name: str) -> pl.DataFrame:
    """Every column as text, so validation sees exactly what was written."""
    try:
        return pl.read_csv(data.removeprefix(b"\xef\xbb\xbf"), infer_schema=False)
    except pl.exceptions.PolarsError as error:
        raise RegistryError(f"{name}: cannot be read as CSV: {error}") from error


def _as_text(frame: pl.DataFrame, columns: Sequence[str], name: str) -> pl.DataFrame:
    """Check the header, then view every column as text with its row index."""
    missing = [column for column in columns if column not in frame.columns]
    extra = [column for column in frame.columns if column not in columns]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected column(s) {', '.join(extra)}")
        raise RegistryError(f"{name}, line 1 (header): {'; '.join(problems)}; expected {','.join(columns)}")
    return frame.select(pl.col(column).cast(pl.String) for column in columns).with_row_index(_INDEX)


def _check(frame: pl.DataFrame, rules: Sequence[_Rule], columns: Sequence[str], name: str) -> None:
    """Raise for the first row breaking the first broken rule, listing further lines that break it."""
    for rule in rules:
        bad = frame.filter(rule.broken)
        if bad.is_empty():
            continue
        row = bad.row(0, named=True)
        lines = [index + 2 for index in bad.get_column(_INDEX).to_list()]
        message = f"{name}, line {lines[0]}: {rule.problem(row)} [{_row_values(row, columns)}]"
        if len(lines) > 1:
            shown = ", ".join(str(line) for line in lines[1 : _MAX_LISTED_LINES + 1])
            more = "..." if len(lines) > _MAX_LISTED_LINES + 1 else ""
            message += f"; also on line(s) {shown}{more}"
        raise RegistryError(message)


def _row_values(row: dict[str, Any], columns: Sequence[str]) -> str:
    return ", ".join(f"{column}={row[column] or ''!r}" for column in columns)


def _empty(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")


def _empty_rule(columns: Sequence[str]) -> _Rule:
    """Every column is required."""

    def problem(row: dict[str, Any]) -> str:
        empty = [column for column in columns if not (row[column] or "").strip()]
        return f"empty {', '.join(empty)}"

    return _Rule(pl.any_horizontal(_empty(column) for column in columns), problem)


def _first_line(frame: pl.DataFrame, where: pl.Expr) -> int:
    return int(frame.filter(where).get_column(_INDEX)[0]) + 2


def _repeated(*keys: pl.Expr) -> pl.Expr:
    """True on every occurrence of a key after its first."""
    return pl.int_range(pl.len()).over(list(keys)) > 0


def _city_rules(frame: pl.DataFrame) -> list[_Rule]:
    lon = pl.col("longitude").cast(pl.Float64, strict=False)
    lat = pl.col("latitude").cast(pl.Float64, strict=False)

    def duplicate(row: dict[str, Any]) -> str:
        first = _first_line(frame, pl.col("city_id") == row["city_id"])
        return f"duplicate city_id {row['city_id']!r} (first on line {first})"

    return [
        _empty_rule(CITY_COLUMNS),
        _Rule(
            ~pl.col("city_id").str.contains(_CITY_ID),
            lambda row: f"city_id {row['city_id']!r} is not a lowercase slug (a-z, 0-9, _ and -)",
        ),
        _Rule(_repeated(pl.col("city_id")), duplicate),
        _Rule(
            ~pl.col("tier").is_in(TIERS),
            lambda row: f"unknown tier {row['tier']!r}; expected one of {', '.join(TIERS)}",
        ),
        _Rule(lon.is_null() | lon.is_nan(), lambda row: f"longitude {row['longitude']!r} is not a number"),
        _Rule(lat.is_null() | lat.is_nan(), lambda row: f"latitude {row['latitude']!r} is not a number"),
        _Rule(
            ~lon.is_between(*LONGITUDE_RANGE),
            lambda row: f"longitude {row['longitude']!r} is outside China ({_span(LONGITUDE_RANGE)})",
        ),
        _Rule(
            ~lat.is_between(*LATITUDE_RANGE),
            lambda row: f"latitude {row['latitude']!r} is outside China ({_span(LATITUDE_RANGE)})",
        ),
    ]


def _span(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g} to {bounds[1]:g}"


def _account_rules(frame: pl.DataFrame, city_ids: pl.Series) -> list[_Rule]:
    """Handles compare case-insensitively: the platforms do, and so do some file systems."""
    handle_key = pl.col("account_handle").str.to_lowercase()
    started = pl.col("started_on").str.to_date("%Y-%m-%d", strict=False)

    def duplicate(column: str, key: pl.Expr) -> Callable[[dict[str, Any]], str]:
        def problem(row: dict[str, Any]) -> str:
            value = row[column]
            same = (pl.col("platform") == row["platform"]) & (key == value.lower())
            first = _first_line(frame, same)
            return f"duplicate {column} {value!r} on {row['platform']} (first on line {first})"

        return problem

    return [
        _empty_rule(ACCOUNT_COLUMNS),
        _Rule(
            ~pl.col("platform").is_in(PLATFORMS),
            lambda row: f"unknown platform {row['platform']!r}; expected one of {', '.join(PLATFORMS)}",
        ),
        _Rule(
            ~pl.col("city_id").is_in(city_ids.implode()),
            lambda row: f"city_id {row['city_id']!r} is not in the cities file",
        ),
        _Rule(
            ~pl.col("account_handle").str.contains(_SAFE_HANDLE),
            lambda row: (
                f"account_handle {row['account_handle']!r} may only use letters, digits, _, . and - "
                "(it names a directory)"
            ),
        ),
        _Rule(_repeated(pl.col("platform"), handle_key), duplicate("account_handle", handle_key)),
        _Rule(
            _repeated(pl.col("platform"), pl.col("platform_account_id").str.to_lowercase()),
            duplicate("platform_account_id", pl.col("platform_account_id").str.to_lowercase()),
        ),
        _Rule(
            ~pl.col("started_on").str.contains(_ISO_DATE) | started.is_null(),
            lambda row: f"started_on {row['started_on']!r} is not an ISO date (YYYY-MM-DD)",
        ),
        _Rule(
            ~pl.col("provenance").is_in(PROVENANCES),
            lambda row: f"provenance {row['provenance']!r} must be one of {', '.join(PROVENANCES)}",
        ),
    ]


def _typed_cities(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(CITY_COLUMNS).with_columns(pl.col("longitude", "latitude").cast(pl.Float64))


def _typed_accounts(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(ACCOUNT_COLUMNS).with_columns(pl.col("started_on").str.to_date("%Y-%m-%d"))


def _name_key(text: str) -> str:
    """Fold case, accents, apostrophes, spaces and hyphens: `Xi'an`, `xian` and `XI AN` are one key."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"['’ʼ`\s-]", "", plain)


def _city_keys(row: dict[str, Any]) -> set[str]:
    return {
        _name_key(row["city_id"]),
        _name_key(row["name_en"]),
        _name_key(row["name_zh"]),
        _name_key(row["name_zh"] + "市"),
    }


def _label(row: dict[str, Any]) -> str:
    return f"{row['name_en']} / {row['name_zh']} ({row['city_id']})"


def _suggestions(key: str, rows: list[dict[str, Any]]) -> str:
    """Close spellings, so a typo costs one glance rather than a search through the CSV."""
    by_key = {candidate: row for row in rows for candidate in _city_keys(row)}
    close = difflib.get_close_matches(key, list(by_key), n=5, cutoff=0.6)
    labels = list(dict.fromkeys(_label(by_key[candidate]) for candidate in close))
    if labels:
        return f"close matches: {'; '.join(labels)}"
    return f"no close match among the {len(rows)} cities (search by city_id, English or Chinese name)"
