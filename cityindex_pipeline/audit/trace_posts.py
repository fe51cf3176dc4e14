"""The lowest levels of a trace: an account's metrics recomputed from its posts, each post's counts
(the withheld ones named) and the raw documents holding it, their sha256 recomputed from the text."""

from __future__ import annotations

import hashlib
from typing import Any

import polars as pl

from cityindex_pipeline.audit.trace_records import Reconciliation, TracedAccount, TracedDocument, TracedPost
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.trace_reads import documents_with_digests

POST_FIELDS = (
    "post_id", "permalink", "published_at_beijing", "content_type", "likes", "comments", "shares",
    "quotes", "saves", "views", "exposures", "reach", "interactions", "interactions_complete",
)  # fmt: skip
COUNTS_GIVEN = {
    "facebook": ("likes", "comments", "shares", "exposures", "reach"),
    "instagram": ("likes", "comments", "saves", "views", "exposures", "reach"),
    "x": ("likes", "comments", "shares", "quotes", "saves", "views", "exposures"),
    "youtube": ("likes", "comments", "views"),
}
"""The counts each platform can give for a post; one of these that is null was withheld (hidden
likes, a post never shared, a capture without impressions), which is not zero. `views` on X and
Instagram exist for videos only."""
Held = dict[tuple[str, str], tuple[TracedDocument, str]]
"""The raw documents of the traced posts by (pull_id, sha256), each with its stored text."""


def traced_accounts(
    metrics: pl.DataFrame,
    posts: pl.DataFrame,
    *,
    documents: bool,
    held: Held,
    reconciliations: list[Reconciliation],
) -> tuple[TracedAccount, ...]:
    """Each account's metrics, recomputed from its posts; each post with the raw document holding it
    (from `held`, the documents of the traced posts, fetched together in one scan)."""
    by_interactions = posts.sort("interactions", descending=True, maintain_order=True)
    posts_of = by_interactions.partition_by("account_handle", as_dict=True, maintain_order=True)
    accounts = []
    for account in metrics.drop("month", "run_id").iter_rows(named=True):
        own = posts_of.get((account["account_handle"],), posts.clear())
        handle = f"@{account['account_handle']}"
        reconciliations.append(
            Reconciliation(f"{handle} posts = count of its posts", account["posts"], own.height)
        )
        reconciliations.append(
            Reconciliation(
                f"{handle} interactions = sum of its posts' interactions",
                account["interactions"],
                float(own["interactions"].sum()),
            )
        )
        traced = tuple(
            _post(post, documents=documents, held=held, reconciliations=reconciliations)
            for post in own.iter_rows(named=True)
        )
        accounts.append(TracedAccount(**account, posts_traced=traced))
    return tuple(accounts)


def _post(
    post: dict[str, Any], *, documents: bool, held: Held, reconciliations: list[Reconciliation]
) -> TracedPost:
    """A post's counts (the withheld ones named) and, if `documents`, the raw documents holding it."""
    counts_given = {
        name: post[name]
        for name in COUNTS_GIVEN[post["platform"]]
        if post[name] is not None or not (name == "views" and post["content_type"] != "video")
    }
    fields = {
        **{field: _plain(post[field]) for field in POST_FIELDS},
        "counts_given": counts_given,
        "withheld": [name for name, value in counts_given.items() if value is None],
    }
    if not documents:
        return TracedPost(**fields)
    document, body = held.get((post["pull_id"], post["source_sha256"]), (None, None))
    insights, _ = held.get((post["pull_id"], post["insights_sha256"]), (None, None))
    if document is not None:
        reconciliations.append(
            Reconciliation(
                f"post {post['post_id']}: the sha256 recomputed from its document's stored text",
                1.0,
                float(document.sha256 == document.recomputed_sha256 and post["post_id"] in body),
            )
        )
    return TracedPost(**fields, documents_traced=True, document=document, insights_document=insights)


def held_documents(warehouse: Warehouse, month: Month, posts: pl.DataFrame) -> Held:
    """The raw documents holding these posts (and their insights), keyed by (pull_id, sha256): one
    query for every platform, since each scans the month's documents."""
    digests = sorted(set(posts["source_sha256"].drop_nulls()) | set(posts["insights_sha256"].drop_nulls()))
    if not digests:
        return {}
    held = {}
    for row in documents_with_digests(warehouse, month, digests).iter_rows(named=True):
        body = row.pop("body")
        document = TracedDocument(
            **{key: _plain(value) for key, value in row.items()},
            recomputed_sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
            bytes=len(body.encode("utf-8")),
        )
        held[(row["pull_id"], row["sha256"])] = (document, body)
    return held


def _plain(value: Any) -> Any:
    """JSON-ready: times as ISO 8601 text."""
    return value.isoformat() if hasattr(value, "isoformat") else value
