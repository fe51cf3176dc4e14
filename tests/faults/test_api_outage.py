"""The API failing mid-pull: the month is not published from a partial pull, and the next run
resumes from what was stored."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from support.landing_helpers import lay_out_month
from support.platform_stand_in import PlatformStandIn
from support.runs import in_memory_instance, make_settings, materialize

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.variables import BASE_URL_VARIABLES
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.api import TOKEN_VARIABLES
from cityindex_pipeline.warehouse.store import Warehouse

SEPTEMBER = Month(2024, 9)
TOKEN = "outage-token"
CHANNELS = "/youtube/v3/channels"


@pytest.fixture
def stand_in(tmp_path, httpserver: HTTPServer, monkeypatch) -> PlatformStandIn:
    lay_out_month(tmp_path / "home" / "landing", SEPTEMBER)  # the documents served, and the panel file
    monkeypatch.setattr("cityindex_pipeline.sources.api.http.BACKOFF_BASE_SECONDS", 0.01)
    for variable in TOKEN_VARIABLES.values():
        monkeypatch.setenv(variable, TOKEN)
    stand_in = PlatformStandIn(httpserver, tmp_path / "home" / "landing", SEPTEMBER, load_registry(), TOKEN)
    for variable in BASE_URL_VARIABLES.values():
        monkeypatch.setenv(variable, stand_in.base)
    return stand_in.install()


def test_a_spent_quota_stops_the_month_before_publication_and_the_next_run_resumes(tmp_path, stand_in):
    settings = dataclasses.replace(make_settings(tmp_path / "home"), source="api")
    stand_in.faults = {
        CHANNELS: [None, None, None, None, 500, None, 403]
    }  # a 500 is retried; the quota is not
    warehouse = Warehouse(settings.warehouse_path)

    with in_memory_instance() as instance:
        stopped = materialize(settings, SEPTEMBER, instance=instance)
        assert not stopped.success
        assert [event.step_key for event in stopped.get_step_failure_events()] == ["raw_youtube"]
        assert warehouse.read_month("publish.index", SEPTEMBER).is_empty(), (
            "nothing published from a partial pull"
        )
        assert (
            warehouse.read_month("clean.posts", SEPTEMBER).filter(pl.col("platform") == "youtube").is_empty()
        )
        pull = warehouse.unfinished_pull(SEPTEMBER, "youtube", "api")
        assert pull is not None
        stored_before = warehouse.stored_accounts(str(pull["pull_id"]))
        assert len(stored_before) == 4, "five channels fetched; the one in flight is asked again"

        stand_in.faults = {}
        resumed = materialize(settings, SEPTEMBER, instance=instance)

    assert resumed.success
    youtube = warehouse.read_month("raw.documents", SEPTEMBER).filter(pl.col("platform") == "youtube")
    assert youtube["pull_id"].unique().to_list() == [pull["pull_id"]], "the same pull, resumed"
    assert not youtube.select("account_handle", "endpoint", "page").is_duplicated().any()
    expected = sum(1 for _ in (settings.landing_dir / "youtube" / "2024-09").glob("*/*.json"))
    assert youtube.height == expected, "every document once"
    assert warehouse.read_month("publish.index", SEPTEMBER).height == 133
