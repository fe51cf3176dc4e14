"""How each platform's documents hang together, and a pull read once by it.

Per platform (`STRUCTURES`): the profile document, the listing paged by a cursor, and the lookup
each listed post needs (insights, YouTube's `videos`). `read_pull` reads each stored body once into
what `completeness.py` needs of it (`Page`: its items, its cursor, the ids it answers for), not the
body itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from cityindex_pipeline.parsing.common import RecordError, timestamp
from cityindex_pipeline.quality.raw_rules import with_usability

Item = tuple[str | None, datetime | None]
"""What a listing page shows of a post or video: its id and when it was published (None if unreadable)."""


@dataclass(frozen=True)
class Page:
    """What completeness reads of one stored document; the body itself is not kept."""

    unusable: str | None = None
    items: tuple[Item, ...] = ()
    cursor: str | None = None
    ids: frozenset[str] = frozenset()
    """The posts or videos a lookup document answers for."""
    has_listing: bool = True
    """For a profile document: whether the account has a listing to page."""


@dataclass(frozen=True)
class Structure:
    """How one account's documents of a platform hang together."""

    profile: str
    listing: str
    cursor_name: str
    read_listing: Callable[[Any], tuple[list[Item], str | None]]
    """A listing page's items, in order, and the cursor to the next page (None on the last)."""
    has_listing: Callable[[Any], bool]
    """From the profile's payload, or None without a usable profile: does a listing follow?"""
    until_past_start: bool = False
    """Paged newest first until past the month's start, not within since/until."""
    lookup: str | None = None
    lookup_of: str = ""
    read_ids: Callable[[Any], set[str]] = lambda _payload: set()
    items_key: str = "data"
    """The list a listing page holds its items in; a page without it holds none of them."""
    items_may_be_absent: bool = False
    """X leaves `data` out of a page with no tweets (it gives `meta.result_count` 0)."""

    def not_a_listing(self, payload: Any) -> str | None:
        """Why a readable document is no page of the listing (a user document where tweets belong):
        it holds none of the listing's items, as the cleaning finds too."""
        if not isinstance(payload, dict):
            return f"not a {self.listing} page: a JSON {type(payload).__name__}, not an object"
        if self.items_key not in payload:
            if self.items_may_be_absent and isinstance(payload.get("meta"), dict):
                return None
            return f"not a {self.listing} page: no {self.items_key!r} list"
        if not isinstance(payload[self.items_key], list):
            return f"not a {self.listing} page: {self.items_key!r} is not a list"
        return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _moment(value: Any) -> datetime | None:
    try:
        return timestamp(value, "time")
    except RecordError:
        return None


def _graph_listing(time_field: str) -> Callable[[Any], tuple[list[Item], str | None]]:
    """Graph API edges: `data` items with `id` and a time; `paging.next` (present even on an empty page)."""

    def read(payload: Any) -> tuple[list[Item], str | None]:
        items = [
            (_text(item.get("id")), _moment(item.get(time_field)))
            for item in _array(_object(payload).get("data"))
            if isinstance(item, dict)
        ]
        return items, _text(_object(_object(payload).get("paging")).get("next"))

    return read


def _x_listing(payload: Any) -> tuple[list[Item], str | None]:
    """X timelines: `data` tweets; `meta.next_token` until the last page."""
    items = [
        (_text(tweet.get("id")), _moment(tweet.get("created_at")))
        for tweet in _array(_object(payload).get("data"))
        if isinstance(tweet, dict)
    ]
    return items, _text(_object(_object(payload).get("meta")).get("next_token"))


def _youtube_listing(payload: Any) -> tuple[list[Item], str | None]:
    """The uploads playlist: each item's `contentDetails` (a private video has no `videoPublishedAt`)."""
    items = []
    for item in _array(_object(payload).get("items")):
        details = _object(_object(item).get("contentDetails"))
        items.append((_text(details.get("videoId")), _moment(details.get("videoPublishedAt"))))
    return items, _text(_object(payload).get("nextPageToken"))


def _lookup_ids(payload: Any) -> set[str]:
    """Graph multi-id lookups: `{post_id: {...}, ...}`."""
    return {key for key, entry in _object(payload).items() if isinstance(entry, dict)}


def _video_ids(payload: Any) -> set[str]:
    return {
        video_id
        for item in _array(_object(payload).get("items"))
        if (video_id := _text(_object(item).get("id"))) is not None
    }


def _always(_profile: Any) -> bool:
    """Facebook and Instagram list by the registry's id, whatever the profile says."""
    return True


def _x_user_found(user: Any) -> bool:
    """The API source asks for tweets only of a user the user document found."""
    return _text(_object(_object(user).get("data")).get("id")) is not None


def _youtube_uploads(channel: Any) -> bool:
    """A channel gone (no items) or without uploads (`videoCount` "0") has no playlist to page."""
    found = _array(_object(channel).get("items"))
    details = _object(found[0]) if found else {}
    uploads = _object(_object(details.get("contentDetails")).get("relatedPlaylists")).get("uploads")
    videos = _object(details.get("statistics")).get("videoCount")
    return _text(uploads) is not None and str(videos) != "0"


STRUCTURES: dict[str, Structure] = {
    "facebook": Structure(
        "page", "posts", "paging.next", _graph_listing("created_time"), _always,
        lookup="post_insights", lookup_of="posts", read_ids=_lookup_ids,
    ),
    "instagram": Structure(
        "user", "media", "paging.next", _graph_listing("timestamp"), _always, until_past_start=True,
        lookup="media_insights", lookup_of="media", read_ids=_lookup_ids,
    ),
    "x": Structure("user", "tweets", "meta.next_token", _x_listing, _x_user_found, items_may_be_absent=True),
    "youtube": Structure(
        "channel", "playlist_items", "nextPageToken", _youtube_listing, _youtube_uploads,
        until_past_start=True, lookup="videos", lookup_of="playlist items", read_ids=_video_ids,
        items_key="items",
    ),
}  # fmt: skip
"""Per platform: the profile, the listing paged by a cursor, and the lookup each listed post needs."""


def _page(structure: Structure, endpoint: str, payload: Any, unusable: str | None) -> Page:
    """What completeness needs of one stored document."""
    if unusable is not None:
        return Page(unusable=unusable)
    if endpoint == structure.profile:
        return Page(has_listing=structure.has_listing(payload))
    if endpoint == structure.listing:
        if (shape := structure.not_a_listing(payload)) is not None:
            return Page(unusable=shape)
        items, cursor = structure.read_listing(payload)
        return Page(items=tuple(items), cursor=cursor)
    return Page(ids=frozenset(structure.read_ids(payload)))


Pages = dict[str, dict[int, Page]]
"""An account's stored documents: endpoint -> page number -> what they hold."""
Stored = dict[str, Pages]
"""A pull's documents as completeness reads them, by account."""


def read_pull(platform: str, documents: pl.DataFrame) -> tuple[pl.DataFrame, Stored]:
    """Each body of a pull read once: the documents with `unusable` (`quality.with_usability`: the
    verdict stored with the document, the one definition of a usable document), for the other raw
    rules, and what completeness needs of each page (not the body). A usable body reads the same by
    Python's plain reader as by the strict one, so it is read by the plain one."""
    structure = STRUCTURES[platform]
    judged = with_usability(documents)
    stored: Stored = {}
    for handle, endpoint, number, body, unusable in judged.select(
        "account_handle", "endpoint", "page", "body", "unusable"
    ).iter_rows():
        payload = json.loads(body) if unusable is None else None
        stored.setdefault(handle, {}).setdefault(endpoint, {})[number] = _page(
            structure, endpoint, payload, unusable
        )
    return judged, stored
