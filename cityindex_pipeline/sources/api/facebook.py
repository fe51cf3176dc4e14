"""Facebook Graph API: the page, its published posts, and their insights.

The Graph API parts Instagram shares (versioned URLs, cursor paging, the multi-id insights lookup with
its retired-metric fallback) live here too, in `GraphApi`: one home for the Graph API.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.api.auth import Auth
from cityindex_pipeline.sources.api.errors import ApiError
from cityindex_pipeline.sources.api.http import LOGGER, Http
from cityindex_pipeline.sources.api.responses import Fetched, Response, chunks, moment
from cityindex_pipeline.sources.api.urls import SECRET_PARAMETERS, build_url, without_params
from cityindex_pipeline.sources.base import SourceError

PAGE_FIELDS = "id,name,username,link,fan_count,followers_count"
POST_FIELDS = (
    "id,created_time,message,permalink_url,status_type,shares,"
    "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
)
PAGE_SIZE = 25
IDS_PER_LOOKUP = 50
_VERSION = re.compile(r"^v(\d+)\.(\d+)$")


@dataclass(frozen=True)
class MetricSets:
    """Insights metric names change with API versions and retirements: the current and the legacy set.

    The current set is tried first from `current_from_version` on, or once `current_from` has passed
    (when the legacy names were retired for every version); the other set is the fallback.
    """

    current: tuple[str, ...]
    legacy: tuple[str, ...]
    current_from_version: int
    current_from: date

    def ordered(self, version: str, today: date) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if graph_major(version) >= self.current_from_version or today >= self.current_from:
            return self.current, self.legacy
        return self.legacy, self.current


FACEBOOK_METRICS = MetricSets(
    current=("post_media_view", "post_impressions_unique"),
    legacy=("post_impressions", "post_impressions_unique"),
    current_from_version=22,
    current_from=date(2025, 11, 1),
)


def graph_major(version: str) -> int:
    match = _VERSION.match(version)
    if not match:
        raise SourceError(f"a Graph API version looks like v21.0, got {version!r}")
    return int(match.group(1))


class GraphApi:
    """What Facebook and Instagram share: versioned URLs, cursor paging, the multi-id insights lookup."""

    def __init__(
        self,
        http: Http,
        auth: Auth,
        base_url: str,
        version: str,
        metrics: MetricSets,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        graph_major(version)
        self.http = http
        self.auth = auth
        self.base_url = base_url
        self.version = version
        self.metrics = metrics
        self._today = today
        self._preferred: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def url(self, path: str, params: dict[str, str]) -> str:
        return build_url(self.base_url, f"/{self.version}/{path}", params)

    def get(self, url: str) -> Response:
        return self.http.get(url, self.auth)

    def pages(
        self, first_url: str, *, stop_before: datetime | None = None, time_field: str = ""
    ) -> Iterator[tuple[Response, list[dict]]]:
        """Follow `paging.next` until it is absent; empty pages with a `next` are followed too.

        With `stop_before`, paging also stops after a page whose last item is older than it (for edges
        that list newest first but may not honour since/until). A `next` already fetched means the cursor
        is stuck: that stops the pull rather than loop.
        """
        seen: set[str] = set()
        url: str | None = first_url
        while url is not None:
            if url in seen:
                raise SourceError(f"paging.next repeats {url}: the cursor does not advance")
            seen.add(url)
            response = self.get(url)
            payload = response.json_object()
            data = payload.get("data")
            items = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
            yield response, items
            url = None if passed(items, time_field, stop_before) else _next_url(payload)

    def insights(self, ids: list[str]) -> Iterator[Response]:
        """The multi-id lookup, at most 50 ids a request."""
        for batch in chunks(ids, IDS_PER_LOOKUP):
            yield self._lookup(batch)

    def _lookup(self, batch: list[str]) -> Response:
        """Try the preferred metric set; on the retired-metric error, once the other (then keep using it)."""
        if self._preferred is None:
            self._preferred = self.metrics.ordered(self.version, self._today())
        first, second = self._preferred
        try:
            return self.get(self._insights_url(batch, first))
        except ApiError as error:
            if not _retired_metric(error):
                raise
            refused = error.detail
        LOGGER.warning("insights metrics %s refused (%s); retrying with %s", ",".join(first), refused, second)
        try:
            response = self.get(self._insights_url(batch, second))
        except ApiError as error:
            if not _retired_metric(error):
                raise
            raise SourceError(
                f"Graph API {self.version} refuses both insights metric sets: {','.join(first)} "
                f"({refused}) and {','.join(second)} ({error.detail}); update the metric sets"
            ) from None
        self._preferred = (second, first)
        return response

    def _insights_url(self, batch: list[str], metrics: tuple[str, ...]) -> str:
        return self.url("", {"ids": ",".join(batch), "fields": f"insights.metric({','.join(metrics)})"})


class FacebookApi:
    """A page's profile, its posts of the month, and the posts' insights."""

    def __init__(self, graph: GraphApi) -> None:
        self.graph = graph

    def documents(self, account: Account, month: Month) -> Iterator[Fetched]:
        page_id = account.platform_account_id
        yield "page", self.graph.get(self.graph.url(page_id, {"fields": PAGE_FIELDS}))
        ids: list[str] = []
        for response, items in self.graph.pages(self.graph.url(f"{page_id}/published_posts", window(month))):
            yield "posts", response
            ids += ids_in_month(items, "created_time", month)
        for response in self.graph.insights(list(dict.fromkeys(ids))):
            yield "post_insights", response


def window(month: Month, fields: str = POST_FIELDS) -> dict[str, str]:
    """The month as Graph API `since`/`until` (unix seconds), in pages of 25."""
    return {
        "fields": fields,
        "since": str(int(month.start_utc.timestamp())),
        "until": str(int(month.end_utc.timestamp())),
        "limit": str(PAGE_SIZE),
    }


def ids_in_month(items: list[dict], time_field: str, month: Month) -> list[str]:
    """Ids of the items published in the month: only those get insights."""
    ids = []
    for item in items:
        published = moment(item.get(time_field))
        if isinstance(item.get("id"), str) and published is not None and month.contains(published):
            ids.append(item["id"])
    return ids


def passed(items: list[dict], time_field: str, start: datetime | None) -> bool:
    """True when the page's last item is older than `start` (lists run newest first)."""
    if start is None or not items:
        return False
    oldest = moment(items[-1].get(time_field))
    return oldest is not None and oldest < start


def _next_url(payload: dict) -> str | None:
    """`paging.next` without the access token it embeds: the HTTP layer adds the token again."""
    paging = payload.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    return without_params(following, SECRET_PARAMETERS) if isinstance(following, str) and following else None


def _retired_metric(error: ApiError) -> bool:
    """Graph's `(#100) ... must be a valid insights metric`: the metric names, not the request, are wrong."""
    return error.status == 400 and error.code == 100 and "metric" in error.detail.lower()
