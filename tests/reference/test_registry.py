"""The shipped registry is complete and consistent, and every broken copy is refused with file, line and row."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.reference.registry import (
    DEFAULT_ACCOUNTS_CSV,
    DEFAULT_CITIES_CSV,
    TIERS,
    Account,
    Registry,
    RegistryError,
    load_registry,
    validate_registry,
)

CITIES_TEXT = DEFAULT_CITIES_CSV.read_text(encoding="utf-8")
ACCOUNTS_TEXT = DEFAULT_ACCOUNTS_CSV.read_text(encoding="utf-8")

NAMED_CITIES = (
    "Nanjing",
    "Beijing",
    "Chengdu",
    "Chongqing",
    "Hangzhou",
    "Shanghai",
    "Xiamen",
    "Guangzhou",
    "Suzhou",
    "Cangzhou",
    "Qingdao",
    "Jining",
    "Yantai",
    "Weihai",
    "Ningbo",
    "Nantong",
    "Changzhou",
    "Fuzhou",
    "Harbin",
    "Huangshan",
    "Xi'an",
    "Jiujiang",
    "Tianjin",
    "Lhasa",
    "Urumqi",
    "Hohhot",
    "Yinchuan",
    "Xining",
    "Nanning",
    "Haikou",
    "Kunming",
    "Guiyang",
    "Lanzhou",
    "Taiyuan",
    "Shijiazhuang",
    "Zhengzhou",
    "Hefei",
    "Nanchang",
    "Changsha",
    "Wuhan",
)
SUB_PROVINCIAL = [
    "guangzhou",
    "wuhan",
    "harbin",
    "shenyang",
    "chengdu",
    "nanjing",
    "xian",
    "changchun",
    "jinan",
    "hangzhou",
    "dalian",
    "qingdao",
    "shenzhen",
    "xiamen",
    "ningbo",
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


# --- helpers writing broken copies -------------------------------------------------------------------


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


# --- the shipped registry ----------------------------------------------------------------------------


def test_shipped_registry_has_133_distinct_cities(registry: Registry) -> None:
    cities = registry.cities
    assert cities.height == 133
    assert cities.get_column("city_id").n_unique() == 133
    assert cities.get_column("name_zh").n_unique() == 133
    assert cities.schema["longitude"] == pl.Float64
    assert cities.schema["latitude"] == pl.Float64


def test_shipped_tiers(registry: Registry) -> None:
    tiers = dict(registry.cities.group_by("tier").len().iter_rows())
    assert set(tiers) <= set(TIERS)
    assert tiers["municipality"] == 4
    assert tiers["sub-provincial"] == 15
    assert tiers["provincial-capital"] == 17
    assert tiers["prefecture"] == 133 - 4 - 15 - 17
    sub_provincial = registry.cities.filter(pl.col("tier") == "sub-provincial").get_column("city_id")
    assert sorted(sub_provincial) == sorted(SUB_PROVINCIAL)


@pytest.mark.parametrize("name", NAMED_CITIES)
def test_named_city_present_by_english_name(registry: Registry, name: str) -> None:
    assert name in registry.cities.get_column("name_en").to_list()


def test_every_platform_present(registry: Registry) -> None:
    assert set(registry.accounts.get_column("platform")) == set(PLATFORMS)
    for platform in PLATFORMS:
        assert registry.accounts_for(platform)


def test_some_city_has_two_accounts_on_one_platform(registry: Registry) -> None:
    counts = registry.accounts.group_by("city_id", "platform").len()
    doubled = counts.filter(pl.col("len") == 2)
    assert doubled.height >= 10
    assert ("nanjing", "facebook") in set(doubled.select("city_id", "platform").iter_rows())


def test_some_city_misses_a_platform(registry: Registry) -> None:
    platforms_per_city = registry.accounts.group_by("city_id").agg(pl.col("platform").n_unique())
    assert platforms_per_city.get_column("platform").min() < len(PLATFORMS)


def test_every_city_has_an_account(registry: Registry) -> None:
    assert set(registry.accounts.get_column("city_id")) == set(registry.cities.get_column("city_id"))


def test_shipped_accounts_are_typed_and_marked_invented(registry: Registry) -> None:
    accounts = registry.accounts
    assert accounts.schema["started_on"] == pl.Date
    assert set(accounts.get_column("provenance")) == {"invented"}
    assert 380 <= accounts.height <= 450


def test_some_accounts_open_late_so_months_before_are_skipped(registry: Registry) -> None:
    late = registry.accounts.filter(pl.col("started_on") >= date(2024, 1, 1))
    assert late.height >= 8
    account = next(a for a in registry.accounts_for("facebook") if a.started_on >= date(2024, 1, 1))
    assert not account.active_in(Month(2023, 12))
    assert account.active_in(Month.of(account.started_on))


def test_accounts_for_gives_sorted_accounts_of_one_platform(registry: Registry) -> None:
    accounts = registry.accounts_for("youtube")
    assert all(isinstance(account, Account) and account.platform == "youtube" for account in accounts)
    handles = [account.account_handle for account in accounts]
    assert handles == sorted(handles)
    assert all(isinstance(account.started_on, date) for account in accounts)


def test_accounts_for_unknown_platform_is_refused(registry: Registry) -> None:
    with pytest.raises(ValueError, match="tiktok"):
        registry.accounts_for("tiktok")


def test_platform_account_ids_follow_each_platform_format(registry: Registry) -> None:
    formats = {
        "facebook": r"1000\d{11}",
        "instagram": r"17841\d{12}",
        "x": r"[1-9]\d{17,18}",
        "youtube": r"UC[A-Za-z0-9_-]{22}",
    }
    for platform, handle, account_id in registry.accounts.select(
        "platform", "account_handle", "platform_account_id"
    ).iter_rows():
        assert re.fullmatch(formats[platform], account_id), (platform, handle, account_id)


@pytest.mark.parametrize("name", ["Xi'an", "xian", "西安", "XI'AN", "Xi’an", "西安市"])
def test_find_city_accepts_the_usual_spellings(registry: Registry, name: str) -> None:
    city = registry.find_city(name)
    assert city["city_id"] == "xian"
    assert city["name_zh"] == "西安"


def test_find_city_by_id_and_chinese_name(registry: Registry) -> None:
    assert registry.find_city("taizhou_zj")["name_zh"] == "台州"
    assert registry.find_city("南京")["city_id"] == "nanjing"
    assert registry.find_city("Ürümqi")["city_id"] == "urumqi"


def test_find_city_unknown_lists_close_matches(registry: Registry) -> None:
    with pytest.raises(KeyError, match=r"'Nanjin'.*Nanjing / 南京 \(nanjing\)"):
        registry.find_city("Nanjin")


def test_find_city_ambiguous_name_asks_for_the_id(registry: Registry) -> None:
    extra = pl.DataFrame(
        {
            "city_id": ["taizhou_js"],
            "name_en": ["Taizhou"],
            "name_zh": ["泰州"],
            "province_en": ["Jiangsu"],
            "province_zh": ["江苏"],
            "tier": ["prefecture"],
            "longitude": [119.9229],
            "latitude": [32.4555],
        }
    )
    both = Registry(cities=pl.concat([registry.cities, extra]), accounts=registry.accounts)
    with pytest.raises(KeyError, match=r"ambiguous.*taizhou_zj.*taizhou_js"):
        both.find_city("Taizhou")
    assert both.find_city("泰州")["city_id"] == "taizhou_js"


def test_typed_frames_pass_validation_again(registry: Registry) -> None:
    validate_registry(registry.cities, registry.accounts)


# --- versioning --------------------------------------------------------------------------------------


def test_version_is_a_sha256_of_the_files(tmp_path: Path, registry: Registry) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", registry.version)
    copy = load_registry(*write_registry(tmp_path))
    assert copy.version == registry.version


def test_version_changes_when_a_byte_changes(tmp_path: Path, registry: Registry) -> None:
    line = line_of(ACCOUNTS_TEXT, "nanjing,facebook,VisitNanjing")
    accounts = with_field(ACCOUNTS_TEXT, line, "display_name", "Visit NanJing")
    changed = load_registry(*write_registry(tmp_path, accounts=accounts))
    assert changed.version != registry.version


def test_version_changes_when_a_city_byte_changes(tmp_path: Path, registry: Registry) -> None:
    cities = CITIES_TEXT.replace("118.7969", "118.7968")
    assert load_registry(*write_registry(tmp_path, cities=cities)).version != registry.version


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
