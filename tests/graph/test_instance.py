"""The instance cityindex writes: embedded by default, PostgreSQL when configured; same run queue and pools."""

from __future__ import annotations

import logging
import os
import threading
import time
import types
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._daemon import controller as daemon_controller
from dagster._daemon.backfill import execute_backfill_iteration_loop

from cityindex_pipeline.cli.instance import (
    CONCURRENCY,
    DAGSTER_YAML,
    EARLIER_CONCURRENCY,
    POSTGRES_PARTS_YAML,
    POSTGRES_URL_YAML,
    dagster_yaml,
    ensure_dagster_home,
    instance_kind,
)
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.defs.run_queue import (
    BACKFILL_DAEMON_INTERVAL_SECONDS,
    MonthRunCoordinator,
    backfill_partition_keys,
    month_of_range,
)

PG_PARTS = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_PORT": "5432",
}


def test_the_configuration_chooses_the_instance():
    assert dagster_yaml({}) == DAGSTER_YAML and instance_kind({}) == "embedded"
    url = {"CITYINDEX_DAGSTER_POSTGRES_URL": "postgresql+psycopg2://u:p@127.0.0.1:5432/dagster"}
    assert dagster_yaml(url) == POSTGRES_URL_YAML and instance_kind(url) == "postgres"
    assert dagster_yaml(PG_PARTS) == POSTGRES_PARTS_YAML
    with pytest.raises(ValueError, match="DAGSTER_PG_PASSWORD"):
        dagster_yaml({k: v for k, v in PG_PARTS.items() if k != "DAGSTER_PG_PASSWORD"})
    with pytest.raises(ValueError, match=r"postgresql\+psycopg2://"):
        dagster_yaml({"CITYINDEX_DAGSTER_POSTGRES_URL": "postgresql://u:p@127.0.0.1/dagster"})


ONE_RUN_PER_MONTH_YAML = """\
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""
"""What the version before wrote: up to four runs at once, one per month."""


@pytest.mark.parametrize("text", [DAGSTER_YAML, POSTGRES_URL_YAML, POSTGRES_PARTS_YAML])
def test_every_instance_runs_one_run_at_a_time_in_queue_order_and_gives_the_warehouse_pool_one_slot(text):
    config = yaml.safe_load(text)
    assert config["run_coordinator"] == {
        "module": "cityindex_pipeline.defs.run_queue",
        "class": "MonthRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    }
    assert config["concurrency"] == {"pools": {"default_limit": 1}, "runs": {"max_concurrent_runs": 1}}
    if "storage" in config:
        assert set(config["storage"]) == {"postgres"}
        assert "secret" not in text, "connections are read from the environment, never written"


def test_the_embedded_instance_loads_with_its_limits(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("CITYINDEX_DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    home = ensure_dagster_home(Settings(home=tmp_path, source="simulated", seed=1))
    assert os.environ["DAGSTER_HOME"] == home
    with dg.DagsterInstance.from_config(home) as instance:
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 1
        assert not concurrency.run_queue_config.tag_concurrency_limits
        assert concurrency.pool_config.default_pool_limit == 1
        assert isinstance(instance.run_coordinator, MonthRunCoordinator)
        assert instance.run_coordinator.dequeue_interval_seconds == 1


class _LoopSlept(Exception):
    """Raised by the loop's first sleep, to end it."""


class _Wakes(threading.Event):
    """A shutdown event that records how long the loop sleeps, and ends it after its first sleep."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.sleeps.append(timeout if timeout is not None else -1.0)
        raise _LoopSlept


def _backfill_loop_sleep(instance: dg.DagsterInstance) -> float:
    """How long Dagster's backfill daemon loop sleeps between looks, run once against `instance`."""
    wakes = _Wakes()
    context = types.SimpleNamespace(instance=instance)
    loop = execute_backfill_iteration_loop(context, logging.getLogger("test"), wakes)  # type: ignore[arg-type]
    with pytest.raises(_LoopSlept):
        for _ in loop:
            pass
    return wakes.sleeps[0]


def test_the_backfill_daemon_looks_at_backfills_as_often_as_the_coordinator_says(tmp_path, monkeypatch):
    """Dagster's loop waits 30 s between looks (a constant); the coordinator of every instance sets
    it, so a backfill's first run is queued, and a finished one marked done, within seconds."""
    monkeypatch.setattr(daemon_controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", 30)
    monkeypatch.delenv("CITYINDEX_DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    home = ensure_dagster_home(Settings(home=tmp_path, source="simulated", seed=1))
    with dg.DagsterInstance.from_config(home) as instance:
        assert instance.run_coordinator.backfill_daemon_interval_seconds == BACKFILL_DAEMON_INTERVAL_SECONDS
        assert 0 < _backfill_loop_sleep(instance) <= BACKFILL_DAEMON_INTERVAL_SECONDS
    config = Path(home) / "dagster.yaml"
    config.write_text(
        config.read_text().replace(
            "dequeue_interval_seconds: 1",
            "dequeue_interval_seconds: 1\n    backfill_daemon_interval_seconds: 7",
        )
    )
    with dg.DagsterInstance.from_config(home) as instance:
        assert instance.run_coordinator.backfill_daemon_interval_seconds == 7
        assert 6 < _backfill_loop_sleep(instance) <= 7
    config.write_text(config.read_text().replace("interval_seconds: 7", "interval_seconds: 0"))
    with dg.DagsterInstance.from_config(home) as instance, pytest.raises(ValueError, match="at least 1"):
        instance.run_coordinator  # noqa: B018 (made on first use)


RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def test_a_run_of_a_one_month_range_is_given_its_month():
    """As a backfill names its runs' months: a range of one month. Only a run tagged with its month
    has its checks' results recorded for the month (queued through a real daemon in tests/system)."""
    assert month_of_range({RANGE_START: "2024-08-01", RANGE_END: "2024-08-01"}) == "2024-08-01"
    assert month_of_range({RANGE_START: "2024-08-01", RANGE_END: "2024-09-01"}) is None, "two months"
    assert month_of_range({"dagster/partition": "2024-07-01"}) is None, "already tagged"
    assert month_of_range({}) is None


def test_a_generated_file_follows_the_configuration_and_an_edited_one_is_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = Settings(home=tmp_path, source="simulated", seed=1)
    config = tmp_path / "dagster" / "dagster.yaml"
    monkeypatch.delenv("CITYINDEX_DAGSTER_POSTGRES_URL", raising=False)
    ensure_dagster_home(settings)
    assert config.read_text() == DAGSTER_YAML
    monkeypatch.setenv("CITYINDEX_DAGSTER_POSTGRES_URL", "postgresql+psycopg2://u:p@127.0.0.1:5432/d")
    ensure_dagster_home(settings)
    assert config.read_text() == POSTGRES_URL_YAML
    for earlier_concurrency in EARLIER_CONCURRENCY:  # as earlier versions wrote it: four runs at once
        earlier = POSTGRES_URL_YAML.replace(CONCURRENCY, earlier_concurrency)
        assert "max_concurrent_runs: 4" in earlier
        config.write_text(earlier)
        ensure_dagster_home(settings)
        assert config.read_text() == POSTGRES_URL_YAML, "a file we generated is brought up to date"
    assert ONE_RUN_PER_MONTH_YAML in EARLIER_CONCURRENCY[0]
    config.write_text(POSTGRES_URL_YAML + "# tuned by hand\n")
    monkeypatch.delenv("CITYINDEX_DAGSTER_POSTGRES_URL")
    ensure_dagster_home(settings)
    assert config.read_text().endswith("# tuned by hand\n")


def test_an_untitled_backfill_is_titled_by_its_months_and_a_titled_one_is_kept(tmp_path, monkeypatch):
    """The UI launches a backfill without a title unless one is typed; its first queued run names it
    (the same title `cityindex backfill` gives; end to end through a daemon in tests/system)."""
    monkeypatch.delenv("CITYINDEX_DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    home = ensure_dagster_home(Settings(home=tmp_path, source="simulated", seed=1))
    months = ["2024-07-01", "2024-08-01", "2024-09-01"]
    with dg.DagsterInstance.from_config(home) as instance:
        for backfill_id, title in (("untitled", None), ("titled", "by hand")):
            instance.add_backfill(
                PartitionBackfill(
                    backfill_id,
                    BulkActionStatus.REQUESTED,
                    False,
                    {},
                    time.time(),
                    partition_names=months,
                    title=title,
                )
            )
            instance.run_coordinator._title_backfill(backfill_id)
        assert instance.get_backfill("untitled").title == "cityindex 2024-07..2024-09 (3 months)"
        assert instance.get_backfill("titled").title == "by hand"
        assert backfill_partition_keys(instance.get_backfill("untitled")) == set(months)
