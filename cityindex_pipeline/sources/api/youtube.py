"""YouTube Data API v3: the channel, its uploads playlist back to the month's start, the month's videos."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.api.auth import Auth
from cityindex_pipeline.sources.api.errors import ApiError
from cityindex_pipeline.sources.api.http import LOGGER, Http
from cityindex_pipeline.sources.api.responses import Fetched, Response, chunks, moment
from cityindex_pipeline.sources.api.urls import build_url
from cityindex_pipeline.sources.base import SourceError

PARTS = "snippet,statistics,contentDetails"
PLAYLIST_PAGE_SIZE = 50
IDS_PER_LOOKUP = 50


class YouTubeApi:
    """Quota matters here (10,000 units a day): page the uploads only as far back as the month."""

    def __init__(self, http: Http, auth: Auth, base_url: str) -> None:
        self.http = http
        self.auth = auth
        self.base_url = base_url

    def documents(self, account: Account, month: Month) -> Iterator[Fetched]:
        channel = self._get("channels", {"part": PARTS, "id": account.platform_account_id})
        yield "channel", channel
        uploads = _uploads_playlist(channel)
        if uploads is None:
            LOGGER.warning(
                "YouTube channel %s not found: no videos pulled for it", account.platform_account_id
            )
            return
        ids: list[str] = []
        for response, dated in self._playlist(uploads, month.start_utc):
            yield "playlist_items", response
            ids += [video_id for video_id, published in dated if month.contains(published)]
        for batch in chunks(list(dict.fromkeys(ids)), IDS_PER_LOOKUP):
            yield "videos", self._get("videos", {"part": PARTS, "id": ",".join(batch)})

    def _playlist(
        self, playlist_id: str, start: datetime
    ) -> Iterator[tuple[Response, list[tuple[str, datetime]]]]:
        """Newest first: stop after the page whose last dated item is older than the month's start.

        Items without `videoPublishedAt` (private or deleted videos) are skipped. A channel without
        uploads has no uploads playlist (404 `playlistNotFound`): nothing to page.
        """
        params = {
            "part": "snippet,contentDetails",
            "playlistId": playlist_id,
            "maxResults": str(PLAYLIST_PAGE_SIZE),
        }
        seen: set[str] = set()
        token: str | None = None
        while True:
            try:
                response = self._get("playlistItems", {**params, **({"pageToken": token} if token else {})})
            except ApiError as error:
                if error.status == 404 and token is None:
                    LOGGER.warning("YouTube playlist %s not found: no uploads", playlist_id)
                    return
                raise
            payload = response.json_object()
            dated = _dated_items(payload.get("items"))
            yield response, dated
            token = payload.get("nextPageToken")
            if not isinstance(token, str) or not token or (dated and dated[-1][1] < start):
                return
            if token in seen:
                raise SourceError(f"YouTube nextPageToken {token} repeats: the cursor does not advance")
            seen.add(token)

    def _get(self, resource: str, params: dict[str, str]) -> Response:
        return self.http.get(build_url(self.base_url, f"/youtube/v3/{resource}", params), self.auth)


def _uploads_playlist(channel: Response) -> str | None:
    """`items[0].contentDetails.relatedPlaylists.uploads`; None when the channel is gone."""
    value: object = channel.json_object()
    for key in ("items", 0, "contentDetails", "relatedPlaylists", "uploads"):
        if isinstance(key, int):
            value = value[0] if isinstance(value, list) and value else None
        else:
            value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


def _dated_items(items: object) -> list[tuple[str, datetime]]:
    """(video id, published) of each item that has both, in the playlist's order."""
    dated = []
    for item in items if isinstance(items, list) else []:
        details = item.get("contentDetails") if isinstance(item, dict) else None
        if not isinstance(details, dict) or not isinstance(details.get("videoId"), str):
            continue
        published = moment(details.get("videoPublishedAt"))
        if published is not None:
            dated.append((details["videoId"], published))
    return dated
