"""Fixtures build data, not mocks: a temporary CITYINDEX_HOME and months materialised into it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from support.runs import in_memory_instance, make_settings, materialize

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.warehouse.store import Warehouse

# Two cores shared with other work: no deadlines, and a bounded number of examples per property.
hypothesis_settings.register_profile(
    "cityindex", deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("cityindex")

# `make test` shares the test files between two workers (`--dist loadfile`: a file stays on one
# worker, so that its module fixtures are built once) and hands them out in collection order
# (`--no-loadscope-reorder`), which this orders by folder, the longest first: the system tests wait
# out the daemon's ticks while the other worker computes, and the many short files of the
# domain's folders fill the end instead of a long one running on alone.
STARTS_FIRST = ("system", "bench", "faults", "graph", "cli")


def pytest_collection_modifyitems(config, items):
    def first(item) -> int:
        folder = Path(item.path).relative_to(Path(__file__).parent).parts[0]
        return STARTS_FIRST.index(folder) if folder in STARTS_FIRST else len(STARTS_FIRST)

    items.sort(key=first)  # stable: the order within each file is pytest's


def _restored(name: str) -> Iterator[None]:
    before = os.environ.get(name)
    yield
    if before is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = before


@pytest.fixture(autouse=True, scope="module")
def _dagster_home_per_module() -> Iterator[None]:
    """`ensure_dagster_home` exports DAGSTER_HOME, as the command needs it; the value a module's
    fixtures or tests leave must not become the next module's instance (which test follows which
    depends on how the files are shared between the workers)."""
    yield from _restored("DAGSTER_HOME")


@pytest.fixture(autouse=True)
def _dagster_home_per_test() -> Iterator[None]:
    yield from _restored("DAGSTER_HOME")


@pytest.fixture(scope="session")
def september_home(tmp_path_factory) -> Settings:
    """2024-08 and 2024-09 materialised once for the read-only tests of this session."""
    settings = make_settings(tmp_path_factory.mktemp("cityindex-home"), first_month=Month(2024, 8))
    with in_memory_instance() as instance:
        for month in (Month(2024, 8), Month(2024, 9)):
            result = materialize(settings, month, selection=dg.AssetSelection.all(), instance=instance)
            assert result.success, [e.step_key for e in result.get_step_failure_events()]
    return settings


@pytest.fixture(scope="session")
def september_warehouse(september_home: Settings) -> Warehouse:
    return Warehouse(september_home.warehouse_path)
