"""The Dagster UI in a real browser (Debian's chromium, driven by Playwright), after a backfill.

Screenshots are kept in `test-artifacts/` (gitignored) for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.system

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAYERS = ("registry", "raw", "clean", "index", "publish")
CHECKS = ("one_row_per_city", "ranks_follow_scores", "scores_between_0_and_100")


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: apt-get install -y chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def _open(page, url: str, ready: str) -> None:
    page.goto(url)
    page.get_by_text(ready, exact=True).first.wait_for()
    skip = page.get_by_role("button", name="Skip")  # Dagster's community pop-up, first visit only
    if skip.count():
        skip.first.click()


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    (ARTIFACTS / f"{name}.txt").write_text(page.inner_text("body"), encoding="utf-8")


@pytest.mark.parametrize("backfilled", ["embedded"], indirect=True)
def test_the_ui_shows_the_graph_the_partitions_and_the_checks(backfilled, page):
    base = backfilled.dagster.url
    _open(page, f"{base}/asset-groups", "Global asset lineage")
    for layer in LAYERS:
        page.get_by_text(layer, exact=True).first.wait_for()
    _shot(page, "asset-graph")

    _open(page, f"{base}/assets/published_index?view=partitions", "published_index")
    months = [m.partition_key for m in backfilled.months]
    page.get_by_text(f"Materialized ({len(months)})").first.wait_for()
    for key in months:
        assert page.get_by_text(key, exact=True).count() > 0, key
    _shot(page, "published-index-partitions")

    _open(page, f"{base}/assets/comprehensive_index?view=checks", "comprehensive_index")
    for check in CHECKS:
        page.get_by_text(check, exact=True).first.wait_for()
    page.get_by_text(re.compile(r"^(Passed|Succeeded)$")).first.wait_for()
    page.get_by_text(months[-1], exact=True).first.wait_for()  # the latest evaluation is of the last month
    body = page.inner_text("body")
    assert "Failed" not in body.split("Execution history")[0], "no check failed"
    _shot(page, "comprehensive-index-checks")
