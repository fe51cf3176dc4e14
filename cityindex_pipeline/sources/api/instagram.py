"""Instagram Graph API: the IG user, its media of the month, and the media insights."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.api.facebook import GraphApi, MetricSets, ids_in_month, window
from cityindex_pipeline.sources.api.responses import Fetched

USER_FIELDS = "id,username,name,followers_count,follows_count,media_count"
MEDIA_FIELDS = "id,caption,media_type,media_product_type,permalink,timestamp,like_count,comments_count"

INSTAGRAM_METRICS = MetricSets(
    current=("views", "reach", "saved"),
    legacy=("impressions", "reach", "saved", "plays"),
    current_from_version=22,
    current_from=date(2025, 4, 21),
)
"""v22 retired `impressions` and `plays` for `views`; every version followed on 2025-04-21."""


class InstagramApi:
    """An IG user's profile, its media of the month, and their insights."""

    def __init__(self, graph: GraphApi) -> None:
        self.graph = graph

    def documents(self, account: Account, month: Month) -> Iterator[Fetched]:
        """The media edge may ignore since/until: keep paging newest first until past the month's start,
        store every page fetched, and ask insights only for the month's media."""
        user_id = account.platform_account_id
        yield "user", self.graph.get(self.graph.url(user_id, {"fields": USER_FIELDS}))
        ids: list[str] = []
        first = self.graph.url(f"{user_id}/media", window(month, MEDIA_FIELDS))
        for response, items in self.graph.pages(first, stop_before=month.start_utc, time_field="timestamp"):
            yield "media", response
            ids += ids_in_month(items, "timestamp", month)
        for response in self.graph.insights(list(dict.fromkeys(ids))):
            yield "media_insights", response
