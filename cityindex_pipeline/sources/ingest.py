"""A pull: one platform's month from a source into the append-only raw archive.

Documents are stored account by account, each with the record that it is stored (in batches of
accounts, every few seconds). A pull that stops half-way (a quota, a crash) stays `in_progress`; the next run of the
month resumes it after the accounts already stored instead of starting over. Downstream reads
only complete pulls, so a month is never computed from a partial pull.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.parsing.document import READING_RULES
from cityindex_pipeline.reference.registry import Account
from cityindex_pipeline.sources.base import RawDocument, Source, SourceProblem
from cityindex_pipeline.warehouse.store import Warehouse, utc_now
from cityindex_pipeline.warehouse.tables import polars_schema

FLUSH_ACCOUNTS = 100
FLUSH_SECONDS = 5.0
"""Stored accounts are written in batches: at most this many, or this much work, is redone on resume."""

DOCUMENT_SCHEMA = polars_schema("raw.documents")
PROBLEM_SCHEMA = polars_schema("raw.source_problems")


@dataclass
class PullSummary:
    pull_id: str
    resumed: bool
    accounts: int
    accounts_skipped_as_stored: int
    documents: int = 0
    accounts_with_documents: int = 0
    bytes: int = 0
    documents_per_endpoint: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, str | None]] = field(default_factory=list)


def pull_month(
    source: Source, warehouse: Warehouse, month: Month, platform: str, accounts: list[Account], run_id: str
) -> PullSummary:
    """Pull what is not yet stored, store it account by account, then mark the pull complete. Pulls
    stored before the archive existed are archived first (`Warehouse.archive_earlier_pulls`)."""
    warehouse.archive_earlier_pulls()
    unfinished = warehouse.unfinished_pull(month, platform, source.name)
    if unfinished is None:
        pull_id = f"{platform}-{month}-{uuid.uuid4().hex[:12]}"
        warehouse.start_pull(
            {
                "pull_id": pull_id,
                "month": month.first_day,
                "platform": platform,
                "source": source.name,
                "run_id": run_id,
                "started_at": utc_now(),
                "accounts": len(accounts),
            }
        )
        stored: set[str] = set()
    else:
        pull_id = str(unfinished["pull_id"])
        stored = warehouse.stored_accounts(pull_id)
    remaining = [account for account in accounts if account.account_handle not in stored]
    summary = PullSummary(pull_id, unfinished is not None, len(accounts), len(accounts) - len(remaining))
    endpoints: Counter[str] = Counter()
    batch: list[tuple[dict[str, object], pl.DataFrame, pl.DataFrame]] = []
    flushed_at = time.monotonic()
    try:
        for handle, items in _by_account(source.pull(month, platform, remaining)):
            if handle in stored:
                continue
            documents = [item for item in items if isinstance(item, RawDocument)]
            problems = [item for item in items if isinstance(item, SourceProblem)]
            batch.append(
                (
                    {
                        "month": month.first_day,
                        "run_id": run_id,
                        "pull_id": pull_id,
                        "platform": platform,
                        "account_handle": handle,
                        "documents": len(documents),
                        "problems": len(problems),
                        "stored_at": utc_now(),
                    },
                    _documents_frame(documents, pull_id, run_id),
                    _problems_frame(problems, month, pull_id, run_id),
                )
            )
            if len(batch) >= FLUSH_ACCOUNTS or time.monotonic() - flushed_at >= FLUSH_SECONDS:
                warehouse.store_accounts(batch)
                batch, flushed_at = [], time.monotonic()
            stored.add(handle)
            summary.documents += len(documents)
            summary.accounts_with_documents += bool(documents)
            summary.bytes += sum(len(doc.body.encode("utf-8")) for doc in documents)
            endpoints.update(doc.endpoint for doc in documents)
            summary.problems += [
                {"account_handle": p.account_handle, "location": p.location, "reason": p.reason}
                for p in problems
            ]
    finally:
        warehouse.store_accounts(batch)  # accounts fully received are kept even if the source failed
    summary.documents_per_endpoint = dict(sorted(endpoints.items()))
    warehouse.complete_pull(pull_id, *warehouse.pull_totals(pull_id))
    return summary


def _by_account(
    items: Iterable[RawDocument | SourceProblem],
) -> Iterator[tuple[str, list[RawDocument | SourceProblem]]]:
    """Group a source's stream into accounts (sources yield all of one account before the next);
    problems that belong to no account are grouped under an empty handle. An account counts as
    received only once the source has moved past it: if the source fails, that account is pulled
    again on resume."""
    for handle, group in groupby(items, key=lambda item: item.account_handle or ""):
        yield handle, list(group)


def _documents_frame(documents: list[RawDocument], pull_id: str, run_id: str) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "month": doc.month.first_day,
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
                "unusable_reason": doc.unusable,  # the verdict, taken once: every reading uses it
                "reading_rules": READING_RULES,
                "judged_sha256": doc.sha256,
            }
            for doc in documents
        ],
        schema=DOCUMENT_SCHEMA,
    )


def _problems_frame(problems: list[SourceProblem], month: Month, pull_id: str, run_id: str) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "month": month.first_day,
                "run_id": run_id,
                "pull_id": pull_id,
                "platform": problem.platform,
                "account_handle": problem.account_handle,
                "location": problem.location,
                "reason": problem.reason,
                "sha256": hashlib.sha256(problem.content).hexdigest(),
                "content": problem.content,
            }
            for problem in problems
        ],
        schema=PROBLEM_SCHEMA,
    )
