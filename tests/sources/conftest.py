"""Fixtures of the API source tests: a local server, recorded waits, and sources pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from support.api_server import ENVIRON, NOW, PLATFORMS, Sleeps, base_of

from cityindex_pipeline.sources.api import ApiSource


@pytest.fixture
def server(httpserver: HTTPServer) -> HTTPServer:
    httpserver.no_handler_status_code = 404  # an unexpected request fails at once instead of being retried
    return httpserver


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_source(server: HTTPServer, sleeps: Sleeps) -> Iterator[Callable[..., ApiSource]]:
    made: list[ApiSource] = []

    def make(**overrides: Any) -> ApiSource:
        options: dict[str, Any] = {
            "environ": ENVIRON,
            "base_urls": dict.fromkeys(PLATFORMS, base_of(server)),
            "sleep": sleeps,
            "clock": lambda: NOW,
            **overrides,
        }
        made.append(ApiSource(**options))
        return made[-1]

    yield make
    for source in made:
        source.close()
