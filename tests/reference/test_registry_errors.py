"""Every broken copy of the registry is refused with file, line and row; any damaged file gives a registry
or a clear RegistryError."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.registry_files import (
    ACCOUNTS_TEXT,
    CITIES_TEXT,
    expect_error,
    line_of,
    with_field,
    without_lines,
    write_registry,
)

from cityindex_pipeline.reference.registry import (
    DEFAULT_ACCOUNTS_CSV,
    DEFAULT_CITIES_CSV,
    RegistryError,
    load_registry,
    validate_registry,
)

# --- header rules ------------------------------------------------------------------------------------


def test_missing_column(tmp_path: Path) -> None:
    cities = pl.read_csv(DEFAULT_CITIES_CSV, infer_schema=False).drop("tier").write_csv()
    expect_error(tmp_path, r"cities\.csv, line 1 \(header\): missing column\(s\) tier", cities=cities)


def test_extra_column(tmp_path: Path) -> None:
    frame = pl.read_csv(DEFAULT_ACCOUNTS_CSV, infer_schema=False)
    accounts = frame.with_columns(followers=pl.lit("10")).write_csv()
    expect_error(
        tmp_path, r"accounts\.csv, line 1 \(header\): unexpected column\(s\) followers", accounts=accounts
    )


# --- city rules --------------------------------------------------------------------------------------


def test_empty_city_value(tmp_path: Path) -> None:
    line = line_of(CITIES_TEXT, "chongqing,")
    cities = with_field(CITIES_TEXT, line, "name_zh", "")
    expect_error(tmp_path, rf"cities\.csv, line {line}: empty name_zh \[city_id='chongqing'", cities=cities)


def test_empty_account_value(tmp_path: Path) -> None:
    line = line_of(ACCOUNTS_TEXT, "nanjing,facebook,NanjingToday")
    accounts = with_field(ACCOUNTS_TEXT, line, "platform_account_id", "  ")
    expect_error(
        tmp_path,
        rf"accounts\.csv, line {line}: empty platform_account_id \[.*account_handle='NanjingToday'",
        accounts=accounts,
    )


def test_duplicate_city_id(tmp_path: Path) -> None:
    line = line_of(CITIES_TEXT, "suzhou,")
    cities = with_field(CITIES_TEXT, line, "city_id", "nanjing")
    first = line_of(CITIES_TEXT, "nanjing,")
    expect_error(
        tmp_path,
        rf"cities\.csv, line {line}: duplicate city_id 'nanjing' \(first on line {first}\).*name_en='Suzhou'",
        cities=cities,
    )


def test_city_id_must_be_a_slug(tmp_path: Path) -> None:
    line = line_of(CITIES_TEXT, "xian,")
    cities = with_field(CITIES_TEXT, line, "city_id", "Xi'an")
    expect_error(
        tmp_path, rf"cities\.csv, line {line}: city_id \"Xi'an\" is not a lowercase slug", cities=cities
    )


def test_unknown_tier(tmp_path: Path) -> None:
    line = line_of(CITIES_TEXT, "hefei,")
    cities = with_field(CITIES_TEXT, line, "tier", "capital")
    expect_error(
        tmp_path, rf"cities\.csv, line {line}: unknown tier 'capital'.*city_id='hefei'", cities=cities
    )


@pytest.mark.parametrize("column", ["longitude", "latitude"])
@pytest.mark.parametrize("value", ["east", "31,2", "nan"])
def test_coordinate_not_a_number(tmp_path: Path, column: str, value: str) -> None:
    line = line_of(CITIES_TEXT, "shanghai,")
    cities = with_field(CITIES_TEXT, line, column, value)
    expect_error(
        tmp_path, rf"cities\.csv, line {line}: {column} '{value}' is not a number.*'shanghai'", cities=cities
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [("longitude", "31.2304"), ("longitude", "140.1"), ("latitude", "121.4737"), ("latitude", "-31.2")],
)
def test_coordinate_outside_china(tmp_path: Path, column: str, value: str) -> None:
    line = line_of(CITIES_TEXT, "shanghai,")
    cities = with_field(CITIES_TEXT, line, column, value)
    expect_error(tmp_path, rf"cities\.csv, line {line}: {column} '{value}' is outside China", cities=cities)


def test_city_without_account(tmp_path: Path) -> None:
    line = line_of(CITIES_TEXT, "jiujiang,")
    accounts = without_lines(ACCOUNTS_TEXT, "jiujiang,")
    expect_error(tmp_path, rf"cities\.csv, line {line}: city 'jiujiang' has no account", accounts=accounts)


def test_no_cities(tmp_path: Path) -> None:
    cities = CITIES_TEXT.splitlines(keepends=True)[0]
    expect_error(tmp_path, r"cities\.csv: no cities", cities=cities)


# --- account rules -----------------------------------------------------------------------------------


def test_unknown_platform(tmp_path: Path) -> None:
    line = line_of(ACCOUNTS_TEXT, "xiamen,x,Discover_Xiamen")
    accounts = with_field(ACCOUNTS_TEXT, line, "platform", "tiktok")
    expect_error(tmp_path, rf"accounts\.csv, line {line}: unknown platform 'tiktok'", accounts=accounts)


def test_account_of_unknown_city(tmp_path: Path) -> None:
    line = line_of(ACCOUNTS_TEXT, "cangzhou,facebook,Cangzhou_Official")
    accounts = with_field(ACCOUNTS_TEXT, line, "city_id", "atlantis")
    expect_error(
        tmp_path,
        rf"accounts\.csv, line {line}: city_id 'atlantis' is not in the cities file.*Cangzhou_Official",
        accounts=accounts,
    )


def test_duplicate_handle_on_one_platform_ignores_case(tmp_path: Path) -> None:
    first = line_of(ACCOUNTS_TEXT, "nanjing,facebook,VisitNanjing")
    line = line_of(ACCOUNTS_TEXT, "nanjing,facebook,NanjingToday")
    accounts = with_field(ACCOUNTS_TEXT, line, "account_handle", "visitnanjing")
    expect_error(
        tmp_path,
        rf"accounts\.csv, line {line}: duplicate account_handle 'visitnanjing' on facebook "
        rf"\(first on line {first}\)",
        accounts=accounts,
    )


def test_same_handle_on_two_platforms_is_fine(tmp_path: Path) -> None:
    line = line_of(ACCOUNTS_TEXT, "nanjing,x,")
    accounts = with_field(ACCOUNTS_TEXT, line, "account_handle", "VisitNanjing")
    load_registry(*write_registry(tmp_path, accounts=accounts))


def test_duplicate_platform_account_id(tmp_path: Path) -> None:
    first = line_of(ACCOUNTS_TEXT, "beijing,facebook,VisitBeijing")
    line = line_of(ACCOUNTS_TEXT, "nanjing,facebook,VisitNanjing")
    account_id = next(csv.reader([ACCOUNTS_TEXT.splitlines()[first - 1]]))[3]
    accounts = with_field(ACCOUNTS_TEXT, line, "platform_account_id", account_id)
    expect_error(
        tmp_path,
        rf"accounts\.csv, line {line}: duplicate platform_account_id '{account_id}' on facebook "
        rf"\(first on line {first}\)",
        accounts=accounts,
    )


@pytest.mark.parametrize("handle", ["Visit Nanjing", "@VisitNanjing", "../VisitNanjing", "..", "南京发布"])
def test_handle_with_unsafe_characters(tmp_path: Path, handle: str) -> None:
    line = line_of(ACCOUNTS_TEXT, "nanjing,facebook,VisitNanjing")
    accounts = with_field(ACCOUNTS_TEXT, line, "account_handle", handle)
    expect_error(
        tmp_path,
        rf"accounts\.csv, line {line}: account_handle '{re.escape(handle)}' may only use",
        accounts=accounts,
    )


@pytest.mark.parametrize("value", ["15/08/2024", "2024-8-15", "2024-02-30", "20240815", "2024-08-15T00:00"])
def test_started_on_not_an_iso_date(tmp_path: Path, value: str) -> None:
    line = line_of(ACCOUNTS_TEXT, "chengdu,x,ChengduRelease")
    accounts = with_field(ACCOUNTS_TEXT, line, "started_on", value)
    expect_error(
        tmp_path,
        rf"accounts\.csv, line {line}: started_on '{value}' is not an ISO date.*display_name='成都发布'",
        accounts=accounts,
    )


def test_unknown_provenance(tmp_path: Path) -> None:
    line = line_of(ACCOUNTS_TEXT, "harbin,youtube,HarbinIceCity")
    accounts = with_field(ACCOUNTS_TEXT, line, "provenance", "guessed")
    expect_error(
        tmp_path, rf"accounts\.csv, line {line}: provenance 'guessed' must be one of", accounts=accounts
    )


def test_every_breaking_line_is_listed(tmp_path: Path) -> None:
    accounts = ACCOUNTS_TEXT.replace(",invented\n", ",unknown\n", 3)
    expect_error(tmp_path, r"line 2: provenance 'unknown'.*also on line\(s\) 3, 4$", accounts=accounts)


def test_verified_provenance_is_accepted(tmp_path: Path) -> None:
    line = line_of(ACCOUNTS_TEXT, "nanjing,facebook,VisitNanjing")
    accounts = with_field(ACCOUNTS_TEXT, line, "provenance", "verified")
    loaded = load_registry(*write_registry(tmp_path, accounts=accounts))
    assert "verified" in loaded.accounts.get_column("provenance").to_list()


def test_unreadable_csv(tmp_path: Path) -> None:
    accounts = ACCOUNTS_TEXT + "nanjing,facebook,Extra,1,Extra,2020-01-01,invented,surplus,cells\n"
    expect_error(tmp_path, r"accounts\.csv: cannot be read as CSV", accounts=accounts)


def test_validate_registry_uses_the_given_file_names() -> None:
    cities = pl.read_csv(DEFAULT_CITIES_CSV, infer_schema=False)
    accounts = pl.read_csv(DEFAULT_ACCOUNTS_CSV, infer_schema=False).with_columns(platform=pl.lit("myspace"))
    with pytest.raises(RegistryError, match=r"^registry/accounts\.csv, line 2: unknown platform 'myspace'"):
        validate_registry(cities, accounts, accounts_name="registry/accounts.csv")


# --- fuzzing: any file gives a registry or a RegistryError, never anything else ---------------------------

ACCOUNT_LINES = ACCOUNTS_TEXT.splitlines()


def _mutated_accounts(data) -> bytes:
    """The shipped accounts file with a few lines cut, duplicated, garbled or replaced by noise."""
    lines = list(ACCOUNT_LINES)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "duplicate", "garble", "noise", "cell"]))
        if action == "drop":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "garble":
            cut = data.draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:cut] + data.draw(st.text(max_size=12)) + lines[index][cut:]
        elif action == "noise":
            lines[index] = data.draw(st.text(max_size=60))
        else:
            cells = lines[index].split(",")
            cells[data.draw(st.integers(0, len(cells) - 1))] = data.draw(st.text(max_size=20))
            lines[index] = ",".join(cells)
        if not lines:
            break
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


@given(data=st.data())
def test_a_damaged_accounts_file_gives_a_registry_or_a_clear_registry_error(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "accounts.csv").write_bytes(_mutated_accounts(data))
    (folder / "cities.csv").write_text(CITIES_TEXT, encoding="utf-8")
    try:
        registry = load_registry(folder / "cities.csv", folder / "accounts.csv")
    except RegistryError as error:
        assert "accounts.csv" in str(error) or "cities.csv" in str(error), error
    else:
        assert registry.accounts.height >= 1


@given(content=st.binary(max_size=400))
def test_any_bytes_as_the_cities_file_give_a_registry_error(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "cities.csv").write_bytes(content)
    with pytest.raises(RegistryError):
        load_registry(folder / "cities.csv", DEFAULT_ACCOUNTS_CSV)
