"""The month's posts of an account: their identity and time, then their counts and text.

A post's identity and time (its skeleton) are drawn apart from its counts, so a neighbouring month can
list a post (YouTube's playlist) by regenerating the skeletons of that month alone.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cityindex_pipeline.core.months import BEIJING, Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.simulated.documents import ID_CHARS
from cityindex_pipeline.sources.simulated.text import post_text
from cityindex_pipeline.sources.simulated.world import Context, account_profile, seeded_rng

VIRAL_RATE = 0.05
DORMANT_RATE = 0.04
EDGE_HOUR_RATE = 0.015
"""Share of posts put in the first (and, again, in the last) hour of the month, Beijing time."""
NO_TEXT_RATE = 0.05

_TWITTER_EPOCH_MS = 1288834974657
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


@dataclass(frozen=True)
class Skeleton:
    """A post's identity and time; regenerated alone when a neighbouring month lists it (YouTube)."""

    post_id: str
    published: datetime
    kind: str
    millis: int | None


@dataclass(frozen=True)
class Stats:
    impressions: int
    reach: int
    likes: int
    comments: int
    shares: int
    saves: int
    quotes: int
    views: int


@dataclass(frozen=True)
class Post:
    skeleton: Skeleton
    stats: Stats
    text: str | None
    hashtags: tuple[str, ...]
    duration: str


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


def skeletons_of(seed: int, account: Account, month: Month) -> list[Skeleton]:
    """The month's posts, newest first; an account opened mid-month posts only after it opened."""
    if not account.active_in(month):
        return []
    platform = account.platform
    rng = seeded_rng(seed, "skeleton", platform, account.account_handle, month)
    opened = datetime.combine(account.started_on, datetime.min.time(), BEIJING).astimezone(UTC)
    start, end = max(month.start_utc, opened), month.end_utc
    share = (end - start) / (month.end_utc - month.start_utc)
    count = _post_count(rng, account_profile(seed, account).activity * share)
    skeletons = [_skeleton(rng, account, _post_time(rng, start, end, month)) for _ in range(count)]
    return sorted(skeletons, key=lambda s: (s.published, s.post_id), reverse=True)


def _skeleton(rng: random.Random, account: Account, published: datetime) -> Skeleton:
    platform = account.platform
    if platform == "facebook":
        number = 10**15 + rng.randrange(9 * 10**15)
        return Skeleton(
            f"{account.platform_account_id}_{number}", published, _pick(rng, FB_STATUS_TYPES), None
        )
    if platform == "instagram":
        return Skeleton(
            str(17_840_000_000_000_000 + rng.randrange(10**14)), published, _pick(rng, IG_KINDS), None
        )
    if platform == "x":
        millis = rng.randrange(1000)
        moment_ms = int(published.timestamp()) * 1000 + millis
        snowflake = ((moment_ms - _TWITTER_EPOCH_MS) << 22) | rng.getrandbits(22)
        return Skeleton(str(snowflake), published, _pick(rng, X_KINDS), None)
    video_id = "".join(rng.choice(ID_CHARS) for _ in range(11))
    millis = rng.randrange(1, 1000) if rng.random() < 0.5 else None
    return Skeleton(video_id, published, "video", millis)


def posts_of(context: Context, skeletons: list[Skeleton]) -> list[Post]:
    """Counts and text for the month's posts; about one account-month in twenty has a viral post."""
    account = context.account
    rng = seeded_rng(context.seed, "posts", account.platform, account.account_handle, context.month)
    viral = rng.randrange(len(skeletons)) if skeletons and rng.random() < VIRAL_RATE else -1
    posts = []
    for index, skeleton in enumerate(skeletons):
        boost = rng.uniform(20.0, 100.0) if index == viral else 1.0
        stats = _stats(rng, context, skeleton.kind, boost)
        text, hashtags = post_text(rng, account)
        duration = _duration(rng) if account.platform == "youtube" else ""
        posts.append(Post(skeleton, stats, text, hashtags, duration))
    return posts


def _stats(rng: random.Random, context: Context, kind: str, boost: float) -> Stats:
    """Heavy-tailed reach from followers; impressions above reach, interactions well below it."""
    profile, platform = context.profile, context.account.platform
    reach = context.followers * profile.reach_rate * rng.lognormvariate(0.0, 0.8) * boost + rng.uniform(5, 40)
    impressions = reach * rng.uniform(1.15, 1.9)
    engaged = reach * profile.engagement_rate * rng.lognormvariate(0.0, 0.4)
    if platform == "youtube":
        return Stats(0, 0, _part(rng, engaged, 0.9), _part(rng, engaged, 0.08), 0, 0, 0, round(reach))
    video = kind in ("added_video", "REELS", "VIDEO", "video", "animated_gif")
    views = round(impressions * rng.uniform(0.3, 1.4)) if video else 0
    likes, comments, shares, saves, quotes = (_part(rng, engaged, w) for w in INTERACTION_SPLIT[platform])
    return Stats(round(impressions), round(reach), likes, comments, shares, saves, quotes, views)


def _part(rng: random.Random, total: float, weight: float) -> int:
    return round(total * weight * rng.uniform(0.6, 1.4)) if weight else 0


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


def full_text(post: Post) -> str | None:
    if post.text is None:
        return None
    return " ".join((post.text, *(f"#{tag}" for tag in post.hashtags)))
