"""Invented accounts for the tests, and the simulated documents of a sample of them."""

from __future__ import annotations

from datetime import date
from functools import cache

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.base import RawDocument
from cityindex_pipeline.sources.simulated import SimulatedSource

PLATFORMS = ("facebook", "instagram", "x", "youtube")
SEPTEMBER = Month(2024, 9)
SAMPLE_MONTHS = (Month(2024, 8), SEPTEMBER, Month(2024, 10))
SAMPLE_CITIES = ("nanjing", "beijing", "tianshui", "karamay", "xian", "zibo", "lijiang", "suzhou", "dandong")
PAGED_ENDPOINTS = {"posts", "media", "tweets", "playlist_items"}


def make_account(
    platform: str, city_id: str, number: int = 0, started_on: date = date(2018, 3, 1)
) -> Account:
    name = city_id.capitalize()
    ids = {
        "facebook": f"1000{number:011d}",
        "instagram": f"178410{number:011d}",
        "x": f"9{number:017d}",
        "youtube": f"UC{number:022d}",
    }
    return Account(
        city_id=city_id,
        platform=platform,
        account_handle=f"Visit{name}{number}",
        platform_account_id=ids[platform],
        display_name=f"Visit {name}",
        started_on=started_on,
    )


def handful(platform: str) -> list[Account]:
    """A big city, a small one, one more, and one opened after September 2024."""
    return [
        make_account(platform, "nanjing", 1, date(2014, 4, 30)),
        make_account(platform, "tianshui", 2, date(2021, 6, 1)),
        make_account(platform, "xian", 3, date(2019, 1, 15)),
        make_account(platform, "zibo", 4, date(2024, 10, 15)),
    ]


def sample_accounts(platform: str, count: int = 60) -> list[Account]:
    return [
        make_account(
            platform, SAMPLE_CITIES[n % len(SAMPLE_CITIES)], 100 + n, date(2016 + n % 6, 1 + n % 12, 1)
        )
        for n in range(count)
    ]


@cache
def sample(platform: str, month: Month) -> tuple[RawDocument, ...]:
    """60 accounts of one platform in one month, shared by the tests that look across many accounts."""
    return tuple(SimulatedSource().pull(month, platform, sample_accounts(platform)))
