"""Pulls are append-only, stored account by account, and resume after an interruption."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.base import SourceError
from cityindex_pipeline.sources.ingest import pull_month
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.warehouse.store import Warehouse

SEPTEMBER = Month(2024, 9)


class QuotaAfter:
    """The simulated platform, failing like a spent quota after `accounts` accounts."""

    name = "simulated"

    def __init__(self, accounts: int) -> None:
        self.accounts = accounts
        self.requested: list[str] = []

    def pull(self, month, platform, accounts) -> Iterator:
        for index, account in enumerate(accounts):
            if index == self.accounts:
                raise SourceError("quotaExceeded: the daily quota is spent")
            self.requested.append(account.account_handle)
            yield from SimulatedSource().pull(month, platform, [account])


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    store = Warehouse(tmp_path / "warehouse.duckdb")
    store.ensure_schema()
    return store


def test_an_interrupted_pull_resumes_after_the_stored_accounts(warehouse):
    accounts = load_registry().accounts_for("x")[:12]
    failing = QuotaAfter(5)
    with pytest.raises(SourceError, match="quota"):
        pull_month(failing, warehouse, SEPTEMBER, "x", accounts, run_id="run-1")
    assert warehouse.latest_pull(SEPTEMBER, "x") is None, "a partial pull is never read downstream"
    assert warehouse.raw_documents(SEPTEMBER, "x").height == 0
    (pull_id,) = warehouse.query("SELECT pull_id FROM raw.pulls WHERE status = 'in_progress'")["pull_id"]
    # the fifth account's end was never seen (the source failed moving past it): it is pulled again
    assert len(warehouse.stored_accounts(pull_id)) == 4

    resuming = QuotaAfter(100)
    summary = pull_month(resuming, warehouse, SEPTEMBER, "x", accounts, run_id="run-2")
    assert summary.resumed and summary.pull_id == pull_id
    assert resuming.requested == [a.account_handle for a in accounts[4:]], (
        "stored accounts are not fetched again"
    )
    stored = warehouse.raw_documents(SEPTEMBER, "x")
    expected = list(SimulatedSource().pull(SEPTEMBER, "x", accounts))
    assert sorted(stored["sha256"]) == sorted(doc.sha256 for doc in expected)
    assert stored.select("account_handle", "endpoint", "page").is_duplicated().sum() == 0
    assert warehouse.latest_pull(SEPTEMBER, "x")["documents"] == len(expected)


def test_a_new_pull_of_a_complete_month_appends_and_becomes_the_latest(warehouse):
    accounts = load_registry().accounts_for("youtube")[:4]
    first = pull_month(SimulatedSource(), warehouse, SEPTEMBER, "youtube", accounts, run_id="run-1")
    second = pull_month(SimulatedSource(), warehouse, SEPTEMBER, "youtube", accounts, run_id="run-2")
    assert first.pull_id != second.pull_id and not second.resumed
    assert warehouse.read_month("raw.documents", SEPTEMBER).height == 2 * first.documents
    assert warehouse.latest_pull(SEPTEMBER, "youtube")["pull_id"] == second.pull_id


def test_the_documents_of_some_endpoints_are_read_alone(warehouse):
    accounts = load_registry().accounts_for("instagram")[:3]
    pull_month(SimulatedSource(), warehouse, SEPTEMBER, "instagram", accounts, run_id="run-1")
    every = warehouse.raw_documents(SEPTEMBER, "instagram")
    assert every["endpoint"].n_unique() > 1
    profiles = warehouse.raw_documents(SEPTEMBER, "instagram", ["user"])
    assert profiles.height > 0 and set(profiles["endpoint"]) == {"user"}
    assert profiles.equals(every.filter(endpoint="user")), "the same rows, in the same order"
    assert warehouse.raw_documents(SEPTEMBER, "instagram", []).height == 0
