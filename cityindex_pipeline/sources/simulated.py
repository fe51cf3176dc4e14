"""The default source: invented platform documents, deterministic for a seed, no credentials needed.

Everything this module emits is INVENTED: followers, posts, texts, ids, counts and timestamps are drawn
from seeded random generators, not observed on any platform. The documents have the exact shapes the
real APIs return (see DOCUMENTS.md), quirks included, so the parsers and the index run on them
unchanged, and they carry signal: an account's strength persists from month to month and leans on its
city, followers grow, engagement is heavy-tailed.

Every draw is seeded from `seed|platform|handle|month|purpose` through SHA-256, so one account's month
is byte-identical however many other accounts or months are pulled, and in whatever order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from cityindex_pipeline.core.months import BEIJING, Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.base import RawDocument

DEFAULT_SEED = 20240901

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

PAGE_SIZE = {"posts": 25, "media": 25, "tweets": 100, "playlist_items": 50}
IDS_PER_LOOKUP = 50

VIRAL_RATE = 0.05
DORMANT_RATE = 0.04
EDGE_HOUR_RATE = 0.015
"""Share of posts put in the first (and, again, in the last) hour of the month, Beijing time."""
NO_SHARES_RATE = 0.06
NO_TEXT_RATE = 0.05
EMPTY_PAGE_RATE = 0.03
DUPLICATE_RATE = 0.02
HIDDEN_ACCOUNT_RATE = 0.05
HIDDEN_COUNT_RATE = 0.05

FB_METRICS_SWITCH = Month(2025, 11)
IG_METRICS_SWITCH = Month(2025, 1)
X_IMPRESSIONS_FROM = Month(2023, 7)

_TWITTER_EPOCH_MS = 1288834974657
_ID_CHARS = string.ascii_letters + string.digits + "-_"
_TOKEN_CHARS = string.ascii_lowercase + string.digits
_GRAPH = "https://graph.facebook.com"
_X_API = "https://api.x.com/2"
_YOUTUBE = "https://www.googleapis.com/youtube/v3"
_SAFE = ",():."

FB_POST_FIELDS = (
    "id,created_time,message,permalink_url,status_type,shares,"
    "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
)
IG_MEDIA_FIELDS = "id,caption,media_type,media_product_type,permalink,timestamp,like_count,comments_count"
X_TWEET_PARAMS = {
    "max_results": "100",
    "tweet.fields": "created_at,public_metrics,entities,attachments",
    "expansions": "attachments.media_keys",
    "media.fields": "type,public_metrics",
}

FB_STATUS_TYPES = (
    ("added_photos", 0.5),
    ("added_video", 0.2),
    ("mobile_status_update", 0.15),
    ("shared_story", 0.15),
)
IG_KINDS = (("IMAGE", 0.45), ("CAROUSEL_ALBUM", 0.25), ("REELS", 0.25), ("VIDEO", 0.05))
X_KINDS = (("text", 0.35), ("photo", 0.45), ("video", 0.15), ("animated_gif", 0.05))
INTERACTION_SPLIT = {
    "facebook": (0.78, 0.12, 0.10, 0.0, 0.0),
    "instagram": (0.88, 0.06, 0.0, 0.06, 0.0),
    "x": (0.6, 0.1, 0.15, 0.07, 0.03),
}
"""Shares of a post's interactions: likes, comments, shares, saves, quotes."""
X_MEDIA_KEY_PREFIX = {"photo": "3_", "video": "7_", "animated_gif": "16_"}

SENTENCES = (
    "Autumn colours along the old city wall in {city}.",
    "Have you tried the street food in {city}? Dumplings, noodles and more.",
    "Golden hour over the riverside in {city}.",
    "A weekend in {city}: temples, tea houses and night markets.",
    "{city} welcomes travellers from around the world.",
    "Lanterns are going up all over {city} for the festival.",
    "Meet the artisans keeping the crafts of {city} alive.",
    "New high-speed rail links make {city} easier to reach than ever.",
    "Morning tai chi in a park in {city}.",
    "Where to eat in {city} tonight? Our picks.",
    "The museums of {city} stay open late this week.",
    "Spring blossoms are out in {city}.",
    "Cycling through the historic lanes of {city}.",
    "International students share their first month in {city}.",
    "Behind the scenes at a tech park in {city}.",
    "Sunrise from the hills above {city}.",
)
CHINESE_PHRASES = ("你好！", "欢迎来中国", "美食推荐", "风景如画", "一起去旅行吧")
GENERIC_TAGS = ("ChinaTravel", "TravelChina", "DiscoverChina", "ChinaCulture")

FB_METRIC_TEXT = {
    "post_impressions": ("Post Impressions", "Lifetime: The number of times your Page's post was on screen."),
    "post_impressions_unique": ("Post Reach", "Lifetime: The number of people who saw your Page's post."),
    "post_media_view": ("Media views", "Lifetime: The number of times your post was on screen or played."),
}
IG_METRIC_TEXT = {
    "impressions": ("Impressions", "Total number of times the media object has been seen"),
    "reach": ("Accounts reached", "The number of unique accounts that have seen the media object"),
    "saved": ("Saved", "Total number of unique accounts that have saved the media object"),
    "plays": ("Plays", "Total number of times the reel or video has started to play"),
    "views": ("Views", "Total number of times the media object has been played or displayed"),
}


@dataclass(frozen=True)
class _Profile:
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
class _Skeleton:
    """A post's identity and time; regenerated alone when a neighbouring month lists it (YouTube)."""

    post_id: str
    published: datetime
    kind: str
    millis: int | None


@dataclass(frozen=True)
class _Stats:
    impressions: int
    reach: int
    likes: int
    comments: int
    shares: int
    saves: int
    quotes: int
    views: int


@dataclass(frozen=True)
class _Post:
    skeleton: _Skeleton
    stats: _Stats
    text: str | None
    hashtags: tuple[str, ...]
    duration: str


@dataclass(frozen=True)
class _Page:
    """One response of a pull, before it is wrapped with its page number and fetch time."""

    endpoint: str
    payload: Any
    url: str


@dataclass(frozen=True)
class _Context:
    """Everything one (account, month) pull needs."""

    seed: int
    account: Account
    month: Month
    profile: _Profile
    followers: int
    fetch_start: datetime


_Builder = Callable[[_Context], list[_Page]]


class SimulatedSource:
    """Invented documents in the platforms' own shapes, reproducible for a seed."""

    name = "simulated"

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self.seed = seed

    def pull(self, month: Month, platform: str, accounts: Iterable[Account]) -> Iterator[RawDocument]:
        """Yield each active account's documents, endpoint by endpoint, pages counted from 1."""
        builder = _BUILDERS.get(platform)
        if builder is None:
            raise ValueError(f"unknown platform {platform!r}")
        for account in accounts:
            if account.platform != platform:
                raise ValueError(f"account {account.account_handle} is on {account.platform}, not {platform}")
            if account.active_in(month):
                yield from _documents(self.seed, month, account, builder)


def _documents(seed: int, month: Month, account: Account, builder: _Builder) -> Iterator[RawDocument]:
    context = _context(seed, month, account)
    pages: dict[str, int] = {}
    for index, page in enumerate(builder(context)):
        pages[page.endpoint] = pages.get(page.endpoint, 0) + 1
        yield RawDocument(
            month=month,
            platform=account.platform,
            account_handle=account.account_handle,
            endpoint=page.endpoint,
            page=pages[page.endpoint],
            body=json.dumps(page.payload, ensure_ascii=False, separators=(",", ":")),
            request_url=page.url,
            fetched_at=context.fetch_start + timedelta(seconds=2 * index),
            source=SimulatedSource.name,
        )


# --- seeding and the persistent account ---------------------------------------------------------


def _rng(seed: int, *parts: object) -> random.Random:
    """A generator for one purpose; SHA-256 (never `hash()`) keeps it stable across processes."""
    key = "|".join(str(part) for part in (seed, *parts))
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def _city_log_strength(seed: int, city_id: str) -> float:
    """Big, well-known cities are stronger on every platform; the rest vary around one."""
    boost = CITY_BOOST["top"] if city_id in TOP_CITIES else 0.0
    boost = CITY_BOOST["rising"] if city_id in RISING_CITIES else boost
    return _rng(seed, "city", city_id).gauss(0.0, 0.7) + boost


def _profile(seed: int, account: Account) -> _Profile:
    """Month-independent, so a strong account stays strong."""
    platform = account.platform
    rng = _rng(seed, "account", platform, account.account_handle)
    log_strength = _city_log_strength(seed, account.city_id) + rng.gauss(0.0, 0.9)
    strength = math.exp(log_strength)
    activity_cap = 30.0 if platform == "youtube" else 120.0
    activity = min(activity_cap, ACTIVITY_MEDIAN[platform] * rng.lognormvariate(0.0, 0.7) * strength**0.15)
    return _Profile(
        followers_ref=PLATFORM_SCALE[platform] * strength,
        growth=math.exp(rng.uniform(math.log(0.003), math.log(0.03))),
        activity=activity,
        reach_rate=REACH_MEDIAN[platform] * rng.lognormvariate(0.0, 0.4),
        engagement_rate=ENGAGEMENT_MEDIAN[platform] * rng.lognormvariate(0.0, 0.35),
        hidden=rng.random() < HIDDEN_ACCOUNT_RATE,
        following=rng.randrange(0, 400),
        lifetime_views_per_follower=rng.uniform(20.0, 200.0),
    )


def _age_months(account: Account, month: Month) -> int:
    return month.months_since(Month.of(account.started_on))


def _followers(seed: int, account: Account, profile: _Profile, month: Month) -> int:
    """Closed form in the month index: log-growth plus a wobble smaller than a month's growth.

    The wobble is at most 40 % of the monthly growth either way, so followers always rise, and any month
    can be generated alone. Young accounts ramp up over their first two years.
    """
    t = month.months_since(REFERENCE_MONTH)
    wobble = _rng(seed, "followers", account.platform, account.account_handle, month).uniform(-1.0, 1.0)
    ramp = min(1.0, (_age_months(account, month) + 3) / 27)
    value = profile.followers_ref * math.exp(profile.growth * (t + 0.4 * wobble)) * ramp
    return max(FOLLOWER_FLOOR, round(value))


def _fetch_start(seed: int, account: Account, month: Month) -> datetime:
    """The 3rd of the next month, 02:00 UTC, plus an account-specific delay within the hour."""
    after = month.next()
    offset = _rng(seed, "fetch", account.platform, account.account_handle, month).randrange(3600)
    return datetime(after.year, after.month, 3, 2, 0, tzinfo=UTC) + timedelta(seconds=offset)


def _context(seed: int, month: Month, account: Account) -> _Context:
    profile = _profile(seed, account)
    return _Context(
        seed=seed,
        account=account,
        month=month,
        profile=profile,
        followers=_followers(seed, account, profile, month),
        fetch_start=_fetch_start(seed, account, month),
    )


# --- posts: identity and time, then counts and text ---------------------------------------------


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    point = rng.random()
    for value, weight in weighted:
        point -= weight
        if point < 0:
            return value
    return weighted[-1][0]


def _post_count(rng: random.Random, mean: float) -> int:
    """Noisy around the account's activity; some months nothing at all."""
    if rng.random() < DORMANT_RATE or mean <= 0:
        return 0
    drawn = mean * rng.lognormvariate(0.0, 0.25) + rng.gauss(0.0, math.sqrt(mean))
    return max(0, round(drawn))


def _post_time(rng: random.Random, start: datetime, end: datetime, month: Month) -> datetime:
    """Uniform over the window, with a few posts in the month's first and last hour (Beijing time)."""
    point = rng.random()
    if point < EDGE_HOUR_RATE and start == month.start_utc:
        return start + timedelta(seconds=rng.randrange(3600))
    if point < 2 * EDGE_HOUR_RATE:
        return end - timedelta(seconds=1 + rng.randrange(3600))
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(span))


def _skeletons(seed: int, account: Account, month: Month) -> list[_Skeleton]:
    """The month's posts, newest first; an account opened mid-month posts only after it opened."""
    if not account.active_in(month):
        return []
    platform = account.platform
    rng = _rng(seed, "skeleton", platform, account.account_handle, month)
    opened = datetime.combine(account.started_on, datetime.min.time(), BEIJING).astimezone(UTC)
    start, end = max(month.start_utc, opened), month.end_utc
    share = (end - start) / (month.end_utc - month.start_utc)
    count = _post_count(rng, _profile(seed, account).activity * share)
    skeletons = [_skeleton(rng, account, _post_time(rng, start, end, month)) for _ in range(count)]
    return sorted(skeletons, key=lambda s: (s.published, s.post_id), reverse=True)


def _skeleton(rng: random.Random, account: Account, published: datetime) -> _Skeleton:
    platform = account.platform
    if platform == "facebook":
        number = 10**15 + rng.randrange(9 * 10**15)
        return _Skeleton(
            f"{account.platform_account_id}_{number}", published, _pick(rng, FB_STATUS_TYPES), None
        )
    if platform == "instagram":
        return _Skeleton(
            str(17_840_000_000_000_000 + rng.randrange(10**14)), published, _pick(rng, IG_KINDS), None
        )
    if platform == "x":
        millis = rng.randrange(1000)
        moment_ms = int(published.timestamp()) * 1000 + millis
        snowflake = ((moment_ms - _TWITTER_EPOCH_MS) << 22) | rng.getrandbits(22)
        return _Skeleton(str(snowflake), published, _pick(rng, X_KINDS), None)
    video_id = "".join(rng.choice(_ID_CHARS) for _ in range(11))
    millis = rng.randrange(1, 1000) if rng.random() < 0.5 else None
    return _Skeleton(video_id, published, "video", millis)


def _posts(context: _Context, skeletons: list[_Skeleton]) -> list[_Post]:
    """Counts and text for the month's posts; about one account-month in twenty has a viral post."""
    account = context.account
    rng = _rng(context.seed, "posts", account.platform, account.account_handle, context.month)
    viral = rng.randrange(len(skeletons)) if skeletons and rng.random() < VIRAL_RATE else -1
    posts = []
    for index, skeleton in enumerate(skeletons):
        boost = rng.uniform(20.0, 100.0) if index == viral else 1.0
        stats = _stats(rng, context, skeleton.kind, boost)
        text, hashtags = _text(rng, account)
        duration = _duration(rng) if account.platform == "youtube" else ""
        posts.append(_Post(skeleton, stats, text, hashtags, duration))
    return posts


def _stats(rng: random.Random, context: _Context, kind: str, boost: float) -> _Stats:
    """Heavy-tailed reach from followers; impressions above reach, interactions well below it."""
    profile, platform = context.profile, context.account.platform
    reach = context.followers * profile.reach_rate * rng.lognormvariate(0.0, 0.8) * boost + rng.uniform(5, 40)
    impressions = reach * rng.uniform(1.15, 1.9)
    engaged = reach * profile.engagement_rate * rng.lognormvariate(0.0, 0.4)
    if platform == "youtube":
        return _Stats(0, 0, _part(rng, engaged, 0.9), _part(rng, engaged, 0.08), 0, 0, 0, round(reach))
    video = kind in ("added_video", "REELS", "VIDEO", "video", "animated_gif")
    views = round(impressions * rng.uniform(0.3, 1.4)) if video else 0
    likes, comments, shares, saves, quotes = (_part(rng, engaged, w) for w in INTERACTION_SPLIT[platform])
    return _Stats(round(impressions), round(reach), likes, comments, shares, saves, quotes, views)


def _part(rng: random.Random, total: float, weight: float) -> int:
    return round(total * weight * rng.uniform(0.6, 1.4)) if weight else 0


def _city_name(account: Account) -> str:
    """The city as the display name spells it (`Xi'an`), else from the id (`taizhou_zj` → Taizhou)."""
    base = account.city_id.split("_")[0]
    for token in re.split(r"[\s,]+", account.display_name):
        if re.sub(r"[^a-z]", "", token.lower()) == base:
            return token
    return base.capitalize()


def _text(rng: random.Random, account: Account) -> tuple[str, tuple[str, ...]]:
    """An English sentence about the city, 0-3 hashtags, now and then some Chinese."""
    city = _city_name(account)
    tag = re.sub(r"[^A-Za-z0-9]", "", city)
    sentence = rng.choice(SENTENCES).format(city=city)
    if rng.random() < 0.1:
        chinese = re.sub(r"[^\u4e00-\u9fff]", "", account.display_name)
        sentence += " " + (chinese if chinese and rng.random() < 0.5 else rng.choice(CHINESE_PHRASES))
    candidates = (f"Visit{tag}", rng.choice(GENERIC_TAGS), f"{tag}Food", tag)
    hashtags = tuple(rng.sample(candidates, rng.choice((0, 1, 1, 2, 2, 3))))
    return sentence, hashtags


def _duration(rng: random.Random) -> str:
    """ISO 8601 like YouTube writes it: `PT45S`, `PT4M13S`, `PT1H4M`."""
    point = rng.random()
    if point < 0.35:
        seconds = rng.randrange(10, 60)
    elif point < 0.95:
        seconds = rng.randrange(60, 1800)
    else:
        seconds = rng.randrange(3600, 7200) // 60 * 60
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return f"PT{parts}"


def _full_text(post: _Post) -> str | None:
    if post.text is None:
        return None
    return " ".join((post.text, *(f"#{tag}" for tag in post.hashtags)))


# --- shared document pieces -----------------------------------------------------------------------


def _graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _url(base: str, params: dict[str, str]) -> str:
    return f"{base}?{urlencode(params, safe=_SAFE)}"


def _graph_version(month: Month) -> str:
    """The Graph API version a pull of the month would have used (v22 retired IG impressions)."""
    if month >= FB_METRICS_SWITCH:
        return "v24.0"
    return "v22.0" if month >= IG_METRICS_SWITCH else "v21.0"


def _token(rng: random.Random, length: int, alphabet: str = _ID_CHARS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _digest_token(*parts: str) -> str:
    """A stable id-like string for a derived identifier, cheaper than a seeded generator."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _paged_posts(rng: random.Random, posts: list[_Post]) -> list[list[_Post]]:
    """Pages of 25, with the Graph API's quirks: an empty page between two, a post seen twice.

    The duplicate is what a cursor shift does: a new post pushes the last of page k onto page k+1;
    the earlier copy was read first, so its counts are a little lower.
    """
    pages = _chunks(posts, PAGE_SIZE["posts"])
    if len(posts) >= 2 and rng.random() < EMPTY_PAGE_RATE:
        if len(pages) == 1:
            pages = [posts[: len(posts) // 2], posts[len(posts) // 2 :]]
        return [pages[0], [], *pages[1:]]
    if len(pages) >= 2 and rng.random() < DUPLICATE_RATE:
        k = rng.randrange(len(pages) - 1)
        seen_twice = pages[k][-1]
        later = replace(seen_twice, stats=replace(seen_twice.stats, likes=seen_twice.stats.likes + 2))
        earlier = replace(seen_twice, stats=_lowered(seen_twice.stats))
        rest = [later] + [post for page in pages[k + 1 :] for post in page]
        pages = [*pages[:k], [*pages[k][:-1], earlier], *_chunks(rest, PAGE_SIZE["posts"])]
    return pages


def _lowered(stats: _Stats) -> _Stats:
    return replace(
        stats,
        likes=stats.likes * 9 // 10,
        comments=stats.comments * 9 // 10,
        shares=stats.shares * 9 // 10,
        impressions=stats.impressions * 9 // 10,
        reach=stats.reach * 9 // 10,
    )


def _graph_paging(
    rng: random.Random, pages: list[list[dict[str, Any]]], url_of: Callable[[str | None], str]
) -> list[tuple[dict[str, Any], str]]:
    """Payload and URL per page; `next` of page k is exactly the URL of page k+1."""
    cursors = [_token(rng, 40, string.ascii_letters + string.digits) for _ in pages]
    results = []
    for number, page in enumerate(pages):
        url = url_of(cursors[number - 1] if number else None)
        paging: dict[str, Any] = {}
        if page:
            paging["cursors"] = {"before": "QVFI" + cursors[number][::-1][:36], "after": cursors[number]}
        if number + 1 < len(pages):
            paging["next"] = url_of(cursors[number])
        results.append(({"data": page, "paging": paging}, url))
    return results


def _graph_insights(
    context: _Context, ids_metrics: list[tuple[str, dict[str, int]]], text: dict
) -> list[_Page]:
    """The multi-id lookup, at most 50 ids a page, one entry per unique post."""
    version = _graph_version(context.month)
    endpoint = "post_insights" if context.account.platform == "facebook" else "media_insights"
    names = list(dict.fromkeys(name for _, metrics in ids_metrics for name in metrics))
    pages = []
    for chunk in _chunks(ids_metrics, IDS_PER_LOOKUP):
        payload = {
            post_id: {
                "insights": {
                    "data": [
                        {
                            "name": name,
                            "period": "lifetime",
                            "values": [{"value": value}],
                            "title": text[name][0],
                            "description": text[name][1],
                            "id": f"{post_id}/insights/{name}/lifetime",
                        }
                        for name, value in metrics.items()
                    ]
                },
                "id": post_id,
            }
            for post_id, metrics in chunk
        }
        params = {
            "ids": ",".join(post_id for post_id, _ in chunk),
            "fields": f"insights.metric({','.join(names)})",
        }
        pages.append(_Page(endpoint, payload, _url(f"{_GRAPH}/{version}/", params)))
    return pages


def _unique_posts(pages: list[list[_Post]]) -> list[_Post]:
    """Each post once, the copy of the latest page (whose counts the insights match)."""
    latest = {post.skeleton.post_id: post for page in pages for post in page}
    return sorted(latest.values(), key=lambda p: (p.skeleton.published, p.skeleton.post_id), reverse=True)


# --- Facebook -------------------------------------------------------------------------------------


def _facebook(context: _Context) -> list[_Page]:
    account, month = context.account, context.month
    version = _graph_version(month)
    page_id = account.platform_account_id
    rng = _rng(context.seed, "paging", account.platform, account.account_handle, month)
    profile_url = _url(
        f"{_GRAPH}/{version}/{page_id}", {"fields": "id,name,username,link,fan_count,followers_count"}
    )
    page_payload = {
        "id": page_id,
        "name": account.display_name,
        "username": account.account_handle,
        "link": f"https://www.facebook.com/{account.account_handle}",
        "fan_count": round(context.followers * 0.92),
        "followers_count": context.followers,
    }
    documents = [_Page("page", page_payload, profile_url)]
    posts = [
        _facebook_post(rng, account, post)
        for post in _posts(context, _skeletons(context.seed, account, month))
    ]
    base = {
        "fields": FB_POST_FIELDS,
        "since": str(int(month.start_utc.timestamp())),
        "until": str(int(month.end_utc.timestamp())),
        "limit": str(PAGE_SIZE["posts"]),
    }

    def url_of(cursor: str | None) -> str:
        return _url(
            f"{_GRAPH}/{version}/{page_id}/published_posts", {**base, **({"after": cursor} if cursor else {})}
        )

    if not posts:
        return [*documents, _Page("posts", {"data": []}, url_of(None))]
    pages = _paged_posts(rng, posts)
    rendered = [[_facebook_item(post) for post in page] for page in pages]
    for payload, url in _graph_paging(rng, rendered, url_of):
        documents.append(_Page("posts", payload, url))
    exposure = "post_media_view" if month >= FB_METRICS_SWITCH else "post_impressions"
    metrics = [
        (
            post.skeleton.post_id,
            {exposure: post.stats.impressions, "post_impressions_unique": post.stats.reach},
        )
        for post in _unique_posts(pages)
    ]
    return documents + _graph_insights(context, metrics, FB_METRIC_TEXT)


def _facebook_post(rng: random.Random, account: Account, post: _Post) -> _Post:
    """Some posts have no text, some were never shared (then `shares` is absent)."""
    if rng.random() < NO_TEXT_RATE:
        post = replace(post, text=None)
    if rng.random() < NO_SHARES_RATE:
        post = replace(post, stats=replace(post.stats, shares=0))
    return post


def _facebook_item(post: _Post) -> dict[str, Any]:
    skeleton, stats = post.skeleton, post.stats
    item: dict[str, Any] = {"id": skeleton.post_id, "created_time": _graph_time(skeleton.published)}
    message = _full_text(post)
    if message is not None:
        item["message"] = message
    page_id, number = skeleton.post_id.split("_", 1)
    item["permalink_url"] = f"https://www.facebook.com/{page_id}/posts/{number}"
    item["status_type"] = skeleton.kind
    if stats.shares:
        item["shares"] = {"count": stats.shares}
    item["reactions"] = {"data": [], "summary": {"total_count": stats.likes, "viewer_reaction": "NONE"}}
    item["comments"] = {
        "data": [],
        "summary": {"order": "ranked", "total_count": stats.comments, "can_comment": True},
    }
    return item


# --- Instagram ------------------------------------------------------------------------------------


def _instagram(context: _Context) -> list[_Page]:
    account, month = context.account, context.month
    version = _graph_version(month)
    user_id = account.platform_account_id
    rng = _rng(context.seed, "paging", account.platform, account.account_handle, month)
    fields = "id,username,name,followers_count,follows_count,media_count"
    user = {
        "id": user_id,
        "username": account.account_handle,
        "name": account.display_name,
        "followers_count": context.followers,
        "follows_count": context.profile.following,
        "media_count": round(context.profile.activity * (_age_months(account, month) + 1) * 0.85),
    }
    documents = [_Page("user", user, _url(f"{_GRAPH}/{version}/{user_id}", {"fields": fields}))]
    posts = _posts(context, _skeletons(context.seed, account, month))
    posts = [replace(post, text=None) if rng.random() < NO_TEXT_RATE else post for post in posts]
    base = {
        "fields": IG_MEDIA_FIELDS,
        "since": str(int(month.start_utc.timestamp())),
        "until": str(int(month.end_utc.timestamp())),
        "limit": str(PAGE_SIZE["media"]),
    }

    def url_of(cursor: str | None) -> str:
        return _url(f"{_GRAPH}/{version}/{user_id}/media", {**base, **({"after": cursor} if cursor else {})})

    if not posts:
        return [*documents, _Page("media", {"data": []}, url_of(None))]
    pages = _paged_posts(rng, posts)
    rendered = [[_instagram_item(post, context.profile.hidden) for post in page] for page in pages]
    for payload, url in _graph_paging(rng, rendered, url_of):
        documents.append(_Page("media", payload, url))
    metrics = [(post.skeleton.post_id, _instagram_metrics(post, month)) for post in _unique_posts(pages)]
    return documents + _graph_insights(context, metrics, IG_METRIC_TEXT)


def _instagram_item(post: _Post, likes_hidden: bool) -> dict[str, Any]:
    """`like_count` is absent on accounts that hide likes; `caption` is absent without text."""
    skeleton = post.skeleton
    media_type = "VIDEO" if skeleton.kind == "REELS" else skeleton.kind
    shortcode = _digest_token("shortcode", skeleton.post_id)[:11]
    item: dict[str, Any] = {"id": skeleton.post_id}
    caption = _full_text(post)
    if caption is not None:
        item["caption"] = caption
    item["media_type"] = media_type
    item["media_product_type"] = "REELS" if skeleton.kind == "REELS" else "FEED"
    item["permalink"] = (
        f"https://www.instagram.com/{'reel' if skeleton.kind == 'REELS' else 'p'}/{shortcode}/"
    )
    item["timestamp"] = _graph_time(skeleton.published)
    if not likes_hidden:
        item["like_count"] = post.stats.likes
    item["comments_count"] = post.stats.comments
    return item


def _instagram_metrics(post: _Post, month: Month) -> dict[str, int]:
    """`impressions`/`plays` before 2025-01, `views` from then on."""
    stats, video = post.stats, post.skeleton.kind in ("REELS", "VIDEO")
    if month >= IG_METRICS_SWITCH:
        return {"views": max(stats.impressions, stats.views), "reach": stats.reach, "saved": stats.saves}
    metrics = {"impressions": stats.impressions, "reach": stats.reach, "saved": stats.saves}
    return {**metrics, "plays": stats.views} if video else metrics


# --- X --------------------------------------------------------------------------------------------


def _x(context: _Context) -> list[_Page]:
    account, month = context.account, context.month
    rng = _rng(context.seed, "paging", account.platform, account.account_handle, month)
    age = _age_months(account, month) + 1
    user = {
        "data": {
            "id": account.platform_account_id,
            "name": account.display_name,
            "username": account.account_handle,
            "created_at": f"{account.started_on.isoformat()}T00:00:00.000Z",
            "public_metrics": {
                "followers_count": context.followers,
                "following_count": context.profile.following,
                "tweet_count": round(context.profile.activity * age),
                "listed_count": context.followers // 400,
                "like_count": round(context.profile.activity * age * 0.3),
                "media_count": round(context.profile.activity * age * 0.6),
            },
        }
    }
    user_url = _url(
        f"{_X_API}/users/by/username/{account.account_handle}", {"user.fields": "created_at,public_metrics"}
    )
    base = {
        "start_time": month.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": month.end_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **X_TWEET_PARAMS,
    }
    posts = _posts(context, _skeletons(context.seed, account, month))
    pages = _chunks(posts, PAGE_SIZE["tweets"]) or [[]]
    tokens = [_token(rng, 45, _TOKEN_CHARS) for _ in pages]
    documents = [_Page("user", user, user_url)]
    for number, page in enumerate(pages):
        params = {**base, **({"pagination_token": tokens[number - 1]} if number else {})}
        next_token = tokens[number] if number + 1 < len(pages) else None
        payload = _x_page(rng, page, month, next_token)
        documents.append(
            _Page("tweets", payload, _url(f"{_X_API}/users/{account.platform_account_id}/tweets", params))
        )
    return documents


def _x_page(rng: random.Random, posts: list[_Post], month: Month, next_token: str | None) -> dict[str, Any]:
    if not posts:
        return {"meta": {"result_count": 0}}
    tweets, media = [], []
    for post in posts:
        tweet, attached = _x_tweet(rng, post, month)
        tweets.append(tweet)
        media.extend(attached)
    payload: dict[str, Any] = {"data": tweets}
    if media:
        payload["includes"] = {"media": media}
    meta: dict[str, Any] = {
        "result_count": len(tweets),
        "newest_id": tweets[0]["id"],
        "oldest_id": tweets[-1]["id"],
    }
    if next_token:
        meta["next_token"] = next_token
    payload["meta"] = meta
    return payload


def _x_tweet(rng: random.Random, post: _Post, month: Month) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A tweet and its media; `impression_count` only in captures from 2023-07 on."""
    skeleton, stats = post.skeleton, post.stats
    text = _full_text(post) or ""
    metrics = {
        "retweet_count": stats.shares,
        "reply_count": stats.comments,
        "like_count": stats.likes,
        "quote_count": stats.quotes,
        "bookmark_count": stats.saves,
    }
    if month >= X_IMPRESSIONS_FROM:
        metrics["impression_count"] = stats.impressions
    tweet: dict[str, Any] = {
        "id": skeleton.post_id,
        "text": text,
        "created_at": skeleton.published.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "edit_history_tweet_ids": [skeleton.post_id],
        "public_metrics": metrics,
    }
    if post.hashtags:
        tweet["entities"] = {"hashtags": _x_hashtags(text, post.hashtags)}
    media: list[dict[str, Any]] = []
    if skeleton.kind != "text":
        key = X_MEDIA_KEY_PREFIX[skeleton.kind] + str(int(skeleton.post_id) + 1 + rng.randrange(1000))
        tweet["attachments"] = {"media_keys": [key]}
        item: dict[str, Any] = {"media_key": key, "type": skeleton.kind}
        if skeleton.kind == "video":
            item["public_metrics"] = {"view_count": stats.views}
        media.append(item)
    return tweet, media


def _x_hashtags(text: str, hashtags: tuple[str, ...]) -> list[dict[str, Any]]:
    """Entity offsets as X gives them: `start` at the `#`, `end` after the tag."""
    entities, position = [], 0
    for tag in hashtags:
        start = text.find(f"#{tag}", position)
        entities.append({"start": start, "end": start + 1 + len(tag), "tag": tag})
        position = start + 1
    return entities


# --- YouTube --------------------------------------------------------------------------------------


def _youtube(context: _Context) -> list[_Page]:
    account, month = context.account, context.month
    rng = _rng(context.seed, "paging", account.platform, account.account_handle, month)
    videos = _posts(context, _skeletons(context.seed, account, month))
    newer = _newer_videos(context)
    older = _older_videos(context, rng.randint(1, 3))
    listed = [*newer, *(video.skeleton for video in videos), *older]
    total = max(len(listed), round(context.profile.activity * (_age_months(account, month) + 1) * 0.9))
    documents = [_youtube_channel(rng, context, total)]
    documents += _youtube_playlist(rng, context, listed, total)
    for chunk in _chunks(videos, IDS_PER_LOOKUP):
        documents.append(_youtube_videos(rng, context, chunk))
    return documents


def _newer_videos(context: _Context) -> list[_Skeleton]:
    """Up to two uploads of the next month already out when the pull ran (the playlist's first items)."""
    upcoming = _skeletons(context.seed, context.account, context.month.next())
    return [video for video in upcoming if video.published < context.fetch_start][-2:]


def _older_videos(context: _Context, wanted: int) -> list[_Skeleton]:
    """The newest uploads before the month, regenerated from their own months (up to two years back)."""
    found: list[_Skeleton] = []
    month = context.month.previous()
    for _ in range(24):
        if len(found) >= wanted or not context.account.active_in(month):
            break
        found.extend(_skeletons(context.seed, context.account, month))
        month = month.previous()
    return found[:wanted]


def _uploads_playlist(channel_id: str) -> str:
    return "UU" + channel_id[2:]


def _youtube_channel(rng: random.Random, context: _Context, video_count: int) -> _Page:
    """Counts as strings; a channel hiding its subscribers has no `subscriberCount` at all."""
    account = context.account
    statistics: dict[str, Any] = {
        "viewCount": str(round(context.followers * context.profile.lifetime_views_per_follower)),
    }
    if not context.profile.hidden:
        statistics["subscriberCount"] = str(context.followers)
    statistics["hiddenSubscriberCount"] = context.profile.hidden
    statistics["videoCount"] = str(video_count)
    channel = {
        "kind": "youtube#channel",
        "etag": _token(rng, 27),
        "id": account.platform_account_id,
        "snippet": {
            "title": account.display_name,
            "customUrl": f"@{account.account_handle.lower()}",
            "publishedAt": f"{account.started_on.isoformat()}T08:00:00Z",
        },
        "contentDetails": {
            "relatedPlaylists": {"likes": "", "uploads": _uploads_playlist(account.platform_account_id)}
        },
        "statistics": statistics,
    }
    payload = {
        "kind": "youtube#channelListResponse",
        "etag": _token(rng, 27),
        "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
        "items": [channel],
    }
    params = {"part": "snippet,statistics,contentDetails", "id": account.platform_account_id}
    return _Page("channel", payload, _url(f"{_YOUTUBE}/channels", params))


def _youtube_playlist(
    rng: random.Random, context: _Context, listed: list[_Skeleton], total: int
) -> list[_Page]:
    """Newest first in pages of 50, stopping on the page that passes the month's start."""
    channel_id = context.account.platform_account_id
    playlist = _uploads_playlist(channel_id)
    chunks = _chunks(listed, PAGE_SIZE["playlist_items"]) or [[]]
    tokens = ["E" + _token(rng, 13, string.ascii_letters + string.digits) for _ in chunks]
    base = {
        "part": "snippet,contentDetails",
        "playlistId": playlist,
        "maxResults": str(PAGE_SIZE["playlist_items"]),
    }
    pages = []
    for number, chunk in enumerate(chunks):
        payload: dict[str, Any] = {"kind": "youtube#playlistItemListResponse", "etag": _token(rng, 27)}
        if number + 1 < len(chunks):
            payload["nextPageToken"] = tokens[number]
        if number:
            payload["prevPageToken"] = "P" + tokens[number - 1][1:]
        payload["items"] = [_playlist_item(rng, context.account, playlist, skeleton) for skeleton in chunk]
        payload["pageInfo"] = {"totalResults": total, "resultsPerPage": PAGE_SIZE["playlist_items"]}
        params = {**base, **({"pageToken": tokens[number - 1]} if number else {})}
        pages.append(_Page("playlist_items", payload, _url(f"{_YOUTUBE}/playlistItems", params)))
    return pages


def _youtube_time(moment: datetime, millis: int | None = None) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis is not None else f"{text}Z"


def _playlist_item(
    rng: random.Random, account: Account, playlist: str, skeleton: _Skeleton
) -> dict[str, Any]:
    published = _youtube_time(skeleton.published)
    return {
        "kind": "youtube#playlistItem",
        "etag": _token(rng, 27),
        "id": _digest_token("playlist-item", playlist, skeleton.post_id)[:48],
        "snippet": {
            "publishedAt": published,
            "channelId": account.platform_account_id,
            "title": _video_title(account, skeleton.post_id),
            "resourceId": {"kind": "youtube#video", "videoId": skeleton.post_id},
        },
        "contentDetails": {"videoId": skeleton.post_id, "videoPublishedAt": published},
    }


def _youtube_videos(rng: random.Random, context: _Context, videos: list[_Post]) -> _Page:
    items = [_youtube_video(rng, context, video) for video in videos]
    payload = {
        "kind": "youtube#videoListResponse",
        "etag": _token(rng, 27),
        "items": items,
        "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
    }
    params = {"part": "snippet,statistics,contentDetails", "id": ",".join(v.skeleton.post_id for v in videos)}
    return _Page("videos", payload, _url(f"{_YOUTUBE}/videos", params))


def _video_title(account: Account, video_id: str) -> str:
    """A function of the video id alone, so the playlist of any month gives the same title."""
    digest = hashlib.sha256(video_id.encode()).digest()
    return SENTENCES[digest[0] % len(SENTENCES)].format(city=_city_name(account)).rstrip(".?")


def _youtube_video(rng: random.Random, context: _Context, video: _Post) -> dict[str, Any]:
    """Counts as strings; `likeCount` absent when likes are hidden, `commentCount` when comments are off."""
    skeleton, stats = video.skeleton, video.stats
    city = _city_name(context.account)
    statistics: dict[str, str] = {"viewCount": str(stats.views)}
    if rng.random() >= HIDDEN_COUNT_RATE:
        statistics["likeCount"] = str(stats.likes)
    statistics["favoriteCount"] = "0"
    if rng.random() >= HIDDEN_COUNT_RATE:
        statistics["commentCount"] = str(stats.comments)
    return {
        "kind": "youtube#video",
        "etag": _token(rng, 27),
        "id": skeleton.post_id,
        "snippet": {
            "publishedAt": _youtube_time(skeleton.published, skeleton.millis),
            "channelId": context.account.platform_account_id,
            "title": _video_title(context.account, skeleton.post_id),
            "description": _full_text(video) or "",
            "tags": [city, "China travel", f"{city} travel"],
        },
        "contentDetails": {"duration": video.duration, "definition": "hd" if rng.random() < 0.9 else "sd"},
        "statistics": statistics,
    }


_BUILDERS = {"facebook": _facebook, "instagram": _instagram, "x": _x, "youtube": _youtube}
