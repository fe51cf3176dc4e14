"""The levels of a traced score, one typed record each, from the publication down to the raw
document: what `trace` builds, the command prints, and `as_dict` turns into the `trace --json`
document (its keys and their order are a contract)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

TOLERANCE = 1e-9


def _fields(record: Any) -> dict[str, Any]:
    """A flat record's fields in declaration order (no nested records)."""
    return {field.name: getattr(record, field.name) for field in dataclasses.fields(record)}


@dataclass(frozen=True)
class Reconciliation:
    level: str
    expected: float
    recomputed: float

    @property
    def ok(self) -> bool:
        return abs(self.expected - self.recomputed) <= TOLERANCE

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "expected": self.expected, "recomputed": self.recomputed, "ok": self.ok}


@dataclass(frozen=True)
class TracedCity:
    city_id: str
    name_en: str
    name_zh: str
    province_en: str
    tier: Any


@dataclass(frozen=True)
class TracedPublication:
    """The publication traced: its version, and the city's published score and rank."""

    version: int
    latest: bool
    score: float
    rank: int
    content_sha256: str
    run_id: str
    published_at: str


@dataclass(frozen=True)
class Quantitative:
    share: float
    score: float


@dataclass(frozen=True)
class Qualitative:
    share: float
    score: float
    source: str | None
    carried_from: str | None
    by_rater: dict[str, float]


@dataclass(frozen=True)
class WeightShares:
    """What a platform's weight is made of: its share of each criterion."""

    user_scale_share: float
    activity_share: float
    relevance_share: float


@dataclass(frozen=True)
class DimensionScore:
    score: float | None
    """None: the city has no value of the dimension's indicators (missing, re-weighted away)."""
    weight: float


@dataclass(frozen=True)
class TracedIndicator:
    dimension: str
    indicator: str
    indicator_weight: float
    raw_value: float | None
    transform: str
    skewness: float | None
    kurtosis: float | None
    winsorised: bool | None
    treated_value: float | None
    platform_min: float | None
    platform_max: float | None
    normalised: float | None


@dataclass(frozen=True)
class TracedDocument:
    """A raw document as stored, its sha256 recomputed from its stored text (the text itself left out)."""

    pull_id: str
    sha256: str
    platform: str
    account_handle: str
    endpoint: str
    page: int
    fetched_at: str
    request_url: str | None
    source: str
    recomputed_sha256: str
    bytes: int


@dataclass(frozen=True)
class TracedPost:
    post_id: str
    permalink: str | None
    published_at_beijing: str
    content_type: str
    likes: int | None
    comments: int | None
    shares: int | None
    quotes: int | None
    saves: int | None
    views: int | None
    exposures: int | None
    reach: int | None
    interactions: int
    interactions_complete: bool
    counts_given: dict[str, int | None]
    """The counts its platform can give; None: withheld (hidden, never shared...), not zero."""
    withheld: list[str]
    documents_traced: bool = False
    """False when the trace is limited to another platform: no document is looked up."""
    document: TracedDocument | None = None
    insights_document: TracedDocument | None = None

    def as_dict(self) -> dict[str, Any]:
        fields = _fields(self)
        for name in ("documents_traced", "document", "insights_document"):
            del fields[name]
        if self.documents_traced:
            fields["document"] = None if self.document is None else _fields(self.document)
            fields["insights_document"] = (
                None if self.insights_document is None else _fields(self.insights_document)
            )
        return fields


@dataclass(frozen=True)
class TracedAccount:
    """An account's cleaned metrics for the month (the columns of `clean.account_metrics`), with its posts."""

    platform: str
    city_id: str
    account_handle: str
    platform_account_id: str
    followers: int | None
    followers_previous: int | None
    follower_growth: int | None
    posts: int
    active_days: int
    video_posts: int
    interactions: int
    interactions_per_post: float | None
    views: int | None
    views_per_video: float | None
    exposures: int | None
    profile_sha256: str | None
    pull_id: str
    posts_traced: tuple[TracedPost, ...] = ()
    """By interactions, most first."""

    def as_dict(self) -> dict[str, Any]:
        return _fields(self) | {"posts_traced": [post.as_dict() for post in self.posts_traced]}


@dataclass(frozen=True)
class TracedPlatform:
    """A platform's part of the quantitative score; `score` None when the city has no account on it."""

    platform: str
    weight: float
    weight_from: WeightShares
    score: float | None
    contribution: float
    rank: int | None = None
    dimensions: dict[str, DimensionScore] = dataclasses.field(default_factory=dict)
    indicators: tuple[TracedIndicator, ...] = ()
    accounts: tuple[TracedAccount, ...] = ()
    interaction_parts: tuple[tuple[str, float, int], ...] = ()
    """(part, weight, sum over the city's posts): how its `interactions` indicator is made."""

    @property
    def present(self) -> bool:
        return self.score is not None

    def as_dict(self) -> dict[str, Any]:
        entry = {
            "platform": self.platform,
            "weight": self.weight,
            "weight_from": _fields(self.weight_from),
            "present": self.present,
        }
        if not self.present:
            return entry | {
                "score": None,
                "contribution": self.contribution,
                "note": "no account on this platform: contributes 0",
            }
        return entry | {
            "score": self.score,
            "contribution": self.contribution,
            "rank": self.rank,
            "dimensions": {name: _fields(dimension) for name, dimension in self.dimensions.items()},
            "indicators": [_fields(indicator) for indicator in self.indicators],
            "accounts": [account.as_dict() for account in self.accounts],
            "interaction_parts": [
                {"part": part, "weight": weight, "sum": total}
                for part, weight, total in self.interaction_parts
            ],
        }


@dataclass(frozen=True)
class CityTrace:
    """One city's published score, decomposed: final -> quantitative and qualitative -> platforms ->
    dimensions -> indicators -> account metrics -> posts -> raw documents, with every level's
    reconciliation."""

    city: TracedCity
    month: str
    publication: TracedPublication | None
    platform: str | None
    """The platform the posts and documents are limited to (None: every platform)."""
    methodology_version: str
    score: float
    rank: int
    previous_rank: int | None
    quantitative: Quantitative
    qualitative: Qualitative
    platforms: tuple[TracedPlatform, ...]
    """By contribution, largest first."""
    reconciliations: tuple[Reconciliation, ...]
    platform_order: tuple[str, ...]

    @property
    def reconciled(self) -> bool:
        return all(r.ok for r in self.reconciliations)

    def as_dict(self) -> dict[str, Any]:
        """The `trace --json` document."""
        return {
            "city": _fields(self.city),
            "month": self.month,
            "publication": None if self.publication is None else _fields(self.publication),
            "platform": self.platform,
            "methodology_version": self.methodology_version,
            "score": self.score,
            "rank": self.rank,
            "previous_rank": self.previous_rank,
            "quantitative": _fields(self.quantitative),
            "qualitative": _fields(self.qualitative),
            "platforms": [platform.as_dict() for platform in self.platforms],
            "reconciliations": [r.as_dict() for r in self.reconciliations],
            "reconciled": self.reconciled,
            "platform_order": list(self.platform_order),
        }
