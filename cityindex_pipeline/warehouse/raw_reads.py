"""Reads of the append-only raw pulls: which pull a month is read from, its documents and problems,
and what a pull interrupted half-way already stored (so that it resumes after it)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cityindex_pipeline.core.fingerprint import documents_sha256
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.connection import Connection


class RawReads(Connection):
    """The `Warehouse` methods that read raw.pulls, raw.pull_accounts, raw.documents and
    raw.source_problems."""

    def unfinished_pull(self, month: Month, platform: str, source: str) -> dict[str, object] | None:
        """The newest pull of this month, platform and source that stopped before completing."""
        pulls = self.query(
            "SELECT * FROM raw.pulls WHERE month = $month AND platform = $platform AND source = $source "
            "ORDER BY started_at DESC, pull_id DESC LIMIT 1",
            {"month": month.first_day, "platform": platform, "source": source},
        )
        if pulls.height == 0 or pulls["status"][0] != "in_progress":
            return None
        return pulls.row(0, named=True)

    def stored_accounts(self, pull_id: str) -> set[str]:
        rows = self.query(
            "SELECT account_handle FROM raw.pull_accounts WHERE pull_id = $pull_id", {"pull_id": pull_id}
        )
        return set(rows["account_handle"])

    def pull_totals(self, pull_id: str) -> tuple[int, int]:
        """Documents and problems the pull's stored accounts hold, across every run that resumed it."""
        totals = self.query(
            "SELECT coalesce(sum(documents), 0) AS documents, coalesce(sum(problems), 0) AS problems "
            "FROM raw.pull_accounts WHERE pull_id = $pull_id",
            {"pull_id": pull_id},
        ).row(0, named=True)
        return int(totals["documents"]), int(totals["problems"])

    def latest_pull(self, month: Month, platform: str) -> dict[str, object] | None:
        """The newest complete pull of a platform's month: what downstream assets read."""
        pulls = self.query(
            "SELECT * FROM raw.pulls WHERE month = $month AND platform = $platform AND status = 'complete' "
            "ORDER BY completed_at DESC, pull_id DESC LIMIT 1",
            {"month": month.first_day, "platform": platform},
        )
        return pulls.row(0, named=True) if pulls.height else None

    def raw_documents(
        self, month: Month, platform: str, endpoints: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """Documents of the latest complete pull of the month for a platform (empty if none), by
        account, endpoint and page; of the `endpoints` only, if given (the profiles are about 1 % of
        a month's bytes). Sorted here, not by DuckDB: its ORDER BY carries every body through the
        sort, which doubled the memory a month's documents take to read."""
        pull = self.latest_pull(month, platform)
        if pull is None:
            return self.query("SELECT * FROM raw.documents WHERE false")
        of_endpoints = "" if endpoints is None else " AND list_contains($endpoints, endpoint)"
        documents = self.query(
            f"SELECT * FROM raw.documents WHERE pull_id = $pull_id{of_endpoints}",
            {"pull_id": pull["pull_id"], **({} if endpoints is None else {"endpoints": list(endpoints)})},
        )
        return documents.sort("account_handle", "endpoint", "page", maintain_order=True)

    def document_keys(self, pull_ids: Sequence[str]) -> pl.DataFrame:
        """Platform, account, endpoint, page and sha256 of the pulls' documents, without their bodies:
        what fingerprints of raw documents need."""
        return self.query(
            "SELECT platform, account_handle, endpoint, page, sha256 FROM raw.documents "
            "WHERE list_contains($pull_ids, pull_id)",
            {"pull_ids": list(pull_ids)},
        )

    def pull_documents_sha256(self, pull_id: str) -> str:
        """Which documents a pull holds, by their own sha256 (`fingerprint.documents_sha256`)."""
        return documents_sha256(self.document_keys([pull_id]))

    def source_problems(self, pull_id: str) -> pl.DataFrame:
        """What a pull recorded as unusable (files, error responses), with the reason."""
        return self.query(
            "SELECT * FROM raw.source_problems WHERE pull_id = $pull_id ORDER BY location",
            {"pull_id": pull_id},
        )
