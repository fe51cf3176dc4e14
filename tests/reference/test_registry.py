"""The shipped registry is complete and consistent, and finds a city by its usual spellings."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from support.registry_files import (
    ACCOUNTS_TEXT,
    CITIES_TEXT,
    line_of,
    with_field,
    write_registry,
)

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.reference.registry import (
    TIERS,
    Account,
    Registry,
    load_registry,
    validate_registry,
)

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
