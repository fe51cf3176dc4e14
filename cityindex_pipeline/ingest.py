"""A pull: one platform's month from a source into the append-only raw archive, all or nothing."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass

import polars as pl

from cityindex_pipeline.months import Month
from cityindex_pipeline.sources.base import Account, Source
from cityindex_pipeline.warehouse import Warehouse, utc_now

DOCUMENT_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "platform": pl.String(),
    "account_handle": pl.String(),
    "endpoint": pl.String(),
    "page": pl.Int32(),
    "body": pl.String(),
    "sha256": pl.String(),
    "pull_id": pl.String(),
    "fetched_at": pl.Datetime("us", "UTC"),
    "request_url": pl.String(),
    "source": pl.String(),
    "run_id": pl.String(),
}


@dataclass(frozen=True)
class PullSummary:
    pull_id: str
    documents: int
    accounts: int
    accounts_with_documents: int
    documents_per_endpoint: dict[str, int]
    bytes: int


def pull_month(
    source: Source, warehouse: Warehouse, month: Month, platform: str, accounts: list[Account], run_id: str
) -> PullSummary:
    """Fetch every document, then store them with the pull's record in one transaction.

    A pull that fails before the end stores nothing and leaves earlier pulls untouched; downstream
    assets read the newest complete pull.
    """
    pull_id = f"{platform}-{month}-{uuid.uuid4().hex[:12]}"
    started_at = utc_now()
    rows = [
        {
            "month": month.first_day,
            "platform": doc.platform,
            "account_handle": doc.account_handle,
            "endpoint": doc.endpoint,
            "page": doc.page,
            "body": doc.body,
            "sha256": doc.sha256,
            "pull_id": pull_id,
            "fetched_at": doc.fetched_at,
            "request_url": doc.request_url,
            "source": doc.source,
            "run_id": run_id,
        }
        for doc in source.pull(month, platform, accounts)
    ]
    documents = pl.DataFrame(rows, schema=DOCUMENT_SCHEMA)
    warehouse.append_pull(
        {
            "pull_id": pull_id,
            "month": month.first_day,
            "platform": platform,
            "source": source.name,
            "run_id": run_id,
            "started_at": started_at,
            "completed_at": utc_now(),
            "status": "complete",
            "accounts": len(accounts),
            "documents": documents.height,
        },
        documents,
    )
    return PullSummary(
        pull_id=pull_id,
        documents=documents.height,
        accounts=len(accounts),
        accounts_with_documents=documents["account_handle"].n_unique() if documents.height else 0,
        documents_per_endpoint=dict(sorted(Counter(documents["endpoint"].to_list()).items())),
        bytes=int(documents["body"].str.len_bytes().sum()) if documents.height else 0,
    )
