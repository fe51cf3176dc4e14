"""The landing-folder source on a folder laid out as a vendor drops it, bad files included."""

from __future__ import annotations

import json

import pytest
from support.landing_helpers import write_landing

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.base import RawDocument, SourceError, SourceProblem
from cityindex_pipeline.sources.landing import COMPLETE_MARKER, LandingSource, complete_drops
from cityindex_pipeline.sources.simulated import SimulatedSource

SEPTEMBER = Month(2024, 9)


@pytest.fixture(scope="module")
def accounts():
    return load_registry().accounts_for("facebook")[:6]


def simulated(accounts, platform="facebook"):
    return list(SimulatedSource().pull(SEPTEMBER, platform, accounts))


def test_reads_every_file_verbatim_as_the_simulator_wrote_it(tmp_path, accounts):
    original = simulated(accounts)
    write_landing(tmp_path, original)
    read = list(LandingSource(tmp_path).pull(SEPTEMBER, "facebook", accounts))
    assert all(isinstance(item, RawDocument) for item in read)
    key = lambda d: (d.account_handle, d.endpoint, d.page)  # noqa: E731
    assert [(key(d), d.sha256) for d in sorted(read, key=key)] == [
        (key(d), d.sha256) for d in sorted(original, key=key)
    ]
    assert all(d.source == "files" and d.request_url.startswith("landing://facebook/2024-09/") for d in read)
    handles = [d.account_handle for d in read]
    assert handles == sorted(handles), "account by account"


def test_an_incomplete_or_missing_drop_is_refused_with_the_path(tmp_path, accounts):
    with pytest.raises(SourceError, match="no facebook drop for 2024-09"):
        list(LandingSource(tmp_path).pull(SEPTEMBER, "facebook", accounts))
    write_landing(tmp_path, simulated(accounts), complete=False)
    with pytest.raises(SourceError, match=f"facebook/2024-09/{COMPLETE_MARKER} is missing"):
        list(LandingSource(tmp_path).pull(SEPTEMBER, "facebook", accounts))


def test_bad_files_are_reported_by_name_and_the_rest_goes_on(tmp_path, accounts):
    write_landing(tmp_path, simulated(accounts))
    month_dir = tmp_path / "facebook" / "2024-09"
    first = month_dir / accounts[0].account_handle
    (first / "posts-7.json").write_text('{"data": [{"id": "1", "created', encoding="utf-8")
    (first / "post_insights-9.json").write_text(
        json.dumps({"error": {"message": "(#100) The value must be a valid insights metric", "code": 100}}),
        encoding="utf-8",
    )
    (first / "reels.json").write_text("{}", encoding="utf-8")
    (first / "page-3.json").write_bytes(b'{"name": "\xff\xfe"}')
    (first / "notes.txt").write_text("vendor notes", encoding="utf-8")
    stranger = month_dir / "NotARegisteredPage"
    stranger.mkdir()
    (stranger / "page.json").write_text('{"id": "1", "followers_count": 3}', encoding="utf-8")
    items = list(LandingSource(tmp_path).pull(SEPTEMBER, "facebook", accounts))
    problems = {
        item.location.rsplit("/", 1)[-1]: item.reason for item in items if isinstance(item, SourceProblem)
    }
    assert problems["posts-7.json"].startswith("not valid JSON")
    assert problems["post_insights-9.json"].startswith("an API error body: (#100)")
    assert problems["reels.json"].startswith("unknown endpoint 'reels'")
    assert problems["page-3.json"].startswith("not UTF-8")
    assert problems["notes.txt"].startswith("not a `<endpoint>[-<page>].json` file")
    assert problems["NotARegisteredPage"] == "an account folder not in the registry for this month"
    stored = {(d.account_handle, d.endpoint, d.page) for d in items if isinstance(d, RawDocument)}
    assert (accounts[0].account_handle, "posts", 7) in stored, "bad JSON is still stored verbatim"
    assert ("NotARegisteredPage", "page", 1) in stored
    assert (accounts[0].account_handle, "page", 3) not in stored, "non-UTF-8 bytes cannot be text"
    good = [d for d in items if isinstance(d, RawDocument) and d.account_handle == accounts[1].account_handle]
    assert len(good) == len(
        [d for d in simulated(accounts) if d.account_handle == accounts[1].account_handle]
    )


def test_complete_drops_need_all_four_platforms_and_change_with_a_redrop(tmp_path):
    registry = load_registry()
    for platform in ("facebook", "x", "instagram"):
        write_landing(tmp_path, simulated(registry.accounts_for(platform)[:1], platform))
    assert complete_drops(tmp_path) == []
    write_landing(tmp_path, simulated(registry.accounts_for("youtube")[:1], "youtube"))
    (drop,) = complete_drops(tmp_path)
    assert drop.month == SEPTEMBER
    (tmp_path / "x" / "2024-09" / COMPLETE_MARKER).write_text("redelivered", encoding="utf-8")
    (again,) = complete_drops(tmp_path)
    assert again.fingerprint != drop.fingerprint


def test_a_page_number_beyond_any_page_is_a_problem_naming_the_file_and_the_rest_goes_on(tmp_path, accounts):
    write_landing(tmp_path, simulated(accounts))
    folder = tmp_path / "facebook" / "2024-09" / accounts[0].account_handle
    for page in ("100000", "100001", "99999999999", "9" * 200):
        (folder / f"posts-{page}.json").write_text('{"data": []}', encoding="utf-8")
    items = list(LandingSource(tmp_path).pull(SEPTEMBER, "facebook", accounts))
    problems = {item.location.rsplit("-", 1)[-1]: item for item in items if isinstance(item, SourceProblem)}
    assert set(problems) == {"100001.json", "99999999999.json", "9" * 200 + ".json"}
    assert problems["99999999999.json"].reason == (
        "page 99999999999 out of range: a page is numbered from 1 to 100,000"
    )
    assert problems["99999999999.json"].content == b'{"data": []}', "kept, content included"
    pages = {
        d.page for d in items if isinstance(d, RawDocument) and d.account_handle == accounts[0].account_handle
    }
    assert 100_000 in pages and max(pages) == 100_000


def test_no_source_can_hand_over_a_page_the_warehouse_cannot_hold():
    (document,) = simulated([load_registry().accounts_for("facebook")[0]])[:1]
    fields = {name: getattr(document, name) for name in ("month", "platform", "account_handle", "endpoint")}
    for page in (0, 2**31, True):
        with pytest.raises(ValueError, match="is out of range"):
            RawDocument(
                **fields, page=page, body="{}", request_url="x", fetched_at=document.fetched_at, source="x"
            )
