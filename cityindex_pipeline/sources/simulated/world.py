"""The seeded world behind every platform: how strong an account is, how it grows, when it is pulled.

What persists for an account across months (its strength, leaning on its city; its activity, reach and
engagement rates) is drawn from seed, platform, handle and city only, and followers follow a closed form
in the month, so any month of any account can be generated alone.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Account

TOP_CITIES = frozenset((
    "beijing", "shanghai", "nanjing", "chengdu", "chongqing", "hangzhou", "xiamen", "guangzhou", "suzhou",
    "cangzhou",
))  # fmt: skip
"""The published September 2024 top ten: a strong boost, so they tend to rank high (but not surely)."""
RISING_CITIES = frozenset((
    "qingdao", "jining", "yantai", "weihai", "ningbo", "nantong", "changzhou", "fuzhou", "harbin",
    "huangshan", "xian", "jiujiang",
))  # fmt: skip
"""Cities named among the risers of the same report: a smaller boost."""
CITY_BOOST = {"top": 1.9, "rising": 0.9}

REFERENCE_MONTH = Month(2024, 9)
"""Followers are anchored here; other months grow or shrink from it in closed form."""
FOLLOWER_FLOOR = 25

PLATFORM_SCALE = {"facebook": 10000.0, "instagram": 4000.0, "x": 4000.0, "youtube": 800.0}
"""Median followers of a median-strength account per platform, before the city and account factors."""
ACTIVITY_MEDIAN = {"facebook": 20.0, "instagram": 18.0, "x": 24.0, "youtube": 4.0}
REACH_MEDIAN = {"facebook": 0.12, "instagram": 0.15, "x": 0.10, "youtube": 0.30}
ENGAGEMENT_MEDIAN = {"facebook": 0.05, "instagram": 0.07, "x": 0.02, "youtube": 0.04}
HIDDEN_ACCOUNT_RATE = 0.05


@dataclass(frozen=True)
class Profile:
    """What persists for an account across months: drawn from seed, platform, handle and city only."""

    followers_ref: float
    growth: float
    activity: float
    reach_rate: float
    engagement_rate: float
    hidden: bool
    following: int
    lifetime_views_per_follower: float


@dataclass(frozen=True)
class Context:
    """Everything one (account, month) pull needs."""

    seed: int
    account: Account
    month: Month
    profile: Profile
    followers: int
    fetch_start: datetime


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """A generator for one purpose; SHA-256 (never `hash()`) keeps it stable across processes."""
    key = "|".join(str(part) for part in (seed, *parts))
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def _city_log_strength(seed: int, city_id: str) -> float:
    """Big, well-known cities are stronger on every platform; the rest vary around one."""
    boost = CITY_BOOST["top"] if city_id in TOP_CITIES else 0.0
    boost = CITY_BOOST["rising"] if city_id in RISING_CITIES else boost
    return seeded_rng(seed, "city", city_id).gauss(0.0, 0.7) + boost


def account_profile(seed: int, account: Account) -> Profile:
    """Month-independent, so a strong account stays strong."""
    platform = account.platform
    rng = seeded_rng(seed, "account", platform, account.account_handle)
    log_strength = _city_log_strength(seed, account.city_id) + rng.gauss(0.0, 0.9)
    strength = math.exp(log_strength)
    activity_cap = 30.0 if platform == "youtube" else 120.0
    activity = min(activity_cap, ACTIVITY_MEDIAN[platform] * rng.lognormvariate(0.0, 0.7) * strength**0.15)
    return Profile(
        followers_ref=PLATFORM_SCALE[platform] * strength,
        growth=math.exp(rng.uniform(math.log(0.003), math.log(0.03))),
        activity=activity,
        reach_rate=REACH_MEDIAN[platform] * rng.lognormvariate(0.0, 0.4),
        engagement_rate=ENGAGEMENT_MEDIAN[platform] * rng.lognormvariate(0.0, 0.35),
        hidden=rng.random() < HIDDEN_ACCOUNT_RATE,
        following=rng.randrange(0, 400),
        lifetime_views_per_follower=rng.uniform(20.0, 200.0),
    )


def age_months(account: Account, month: Month) -> int:
    return month.months_since(Month.of(account.started_on))


def _followers(seed: int, account: Account, profile: Profile, month: Month) -> int:
    """Closed form in the month index: log-growth plus a wobble smaller than a month's growth.

    The wobble is at most 40 % of the monthly growth either way, so followers always rise, and any month
    can be generated alone. Young accounts ramp up over their first two years.
    """
    t = month.months_since(REFERENCE_MONTH)
    wobble = seeded_rng(seed, "followers", account.platform, account.account_handle, month).uniform(-1.0, 1.0)
    ramp = min(1.0, (age_months(account, month) + 3) / 27)
    value = profile.followers_ref * math.exp(profile.growth * (t + 0.4 * wobble)) * ramp
    return max(FOLLOWER_FLOOR, round(value))


def _fetch_start(seed: int, account: Account, month: Month) -> datetime:
    """The 3rd of the next month, 02:00 UTC, plus an account-specific delay within the hour."""
    after = month.next()
    offset = seeded_rng(seed, "fetch", account.platform, account.account_handle, month).randrange(3600)
    return datetime(after.year, after.month, 3, 2, 0, tzinfo=UTC) + timedelta(seconds=offset)


def pull_context(seed: int, month: Month, account: Account) -> Context:
    profile = account_profile(seed, account)
    return Context(
        seed=seed,
        account=account,
        month=month,
        profile=profile,
        followers=_followers(seed, account, profile, month),
        fetch_start=_fetch_start(seed, account, month),
    )


def paging_rng(context: Context) -> random.Random:
    """The generator of one pull's paging draws (cursors, tokens, paging quirks) for the account's month."""
    account = context.account
    return seeded_rng(context.seed, "paging", account.platform, account.account_handle, context.month)
