"""The default source: invented platform documents, deterministic for a seed, no credentials needed.

Everything this package emits is INVENTED: followers, posts, texts, ids, counts and timestamps are drawn
from seeded random generators, not observed on any platform. The documents have the exact shapes the
real APIs return (see DOCUMENTS.md), quirks included, so the parsers and the index run on them
unchanged, and they carry signal: an account's strength persists from month to month and leans on its
city, followers grow, engagement is heavy-tailed.

Every draw is seeded from `seed|platform|handle|month|purpose` through SHA-256, so one account's month
is byte-identical however many other accounts or months are pulled, and in whatever order.

One module per platform builds that platform's documents (`facebook`, `instagram`, `x`, `youtube`); what
they share is apart: the seeded world of accounts (`world`), their posts (`posts`) and the posts' text
(`text`), the Graph API's paging and insights (`graph`), and the pieces of any response (`documents`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.base import RawDocument
from cityindex_pipeline.sources.simulated.documents import Page
from cityindex_pipeline.sources.simulated.facebook import facebook_responses
from cityindex_pipeline.sources.simulated.instagram import instagram_responses
from cityindex_pipeline.sources.simulated.world import Context, pull_context
from cityindex_pipeline.sources.simulated.x import x_responses
from cityindex_pipeline.sources.simulated.youtube import youtube_responses

DEFAULT_SEED = 20240901

_Builder = Callable[[Context], list[Page]]


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
    context = pull_context(seed, month, account)
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


_BUILDERS = {
    "facebook": facebook_responses,
    "instagram": instagram_responses,
    "x": x_responses,
    "youtube": youtube_responses,
}

__all__ = ["DEFAULT_SEED", "SimulatedSource"]
