"""A drop is complete by the source's own structure: simulated months pass, and each kind of gap,
made by taking one thing out of them, fails naming the account, the endpoint and what is missing;
what only an unusable document or a recorded problem explains passes, and says so."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache

import polars as pl
import pytest

from cityindex_pipeline import quality
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.quality.completeness import drop_complete
from cityindex_pipeline.quality.pull_structure import read_pull
from cityindex_pipeline.reference.registry import Account, load_registry
from cityindex_pipeline.sources.base import RawDocument
from cityindex_pipeline.sources.ingest import PROBLEM_SCHEMA, _documents_frame
from cityindex_pipeline.sources.simulated import SimulatedSource

SEPTEMBER = Month(2024, 9)
ACCOUNTS = 14
"""The first accounts of each platform: among them Facebook and Instagram accounts of five pages and more."""
BEFORE_SEPTEMBER = "2024-08-20T03:00:00+0000"


@cache
def simulated(platform: str, month: Month = SEPTEMBER) -> tuple[tuple[Account, ...], tuple[RawDocument, ...]]:
    accounts = tuple(a for a in load_registry().accounts_for(platform) if a.active_in(month))[:ACCOUNTS]
    return accounts, tuple(SimulatedSource().pull(month, platform, accounts))


def deepest(platform: str, endpoint: str) -> str:
    """The account whose month has the most pages of the endpoint."""
    _, documents = simulated(platform)
    return max(
        (d for d in documents if d.endpoint == endpoint), key=lambda d: (d.page, d.account_handle)
    ).account_handle


def check(
    platform: str,
    documents: list[RawDocument],
    problems: list[dict] = (),
    month: Month = SEPTEMBER,
    accounts: list[Account] | None = None,
) -> quality.Finding:
    registered = accounts if accounts is not None else simulated(platform, month)[0]
    active = pl.DataFrame(
        [
            {"platform": a.platform, "city_id": a.city_id, "account_handle": a.account_handle}
            for a in registered
        ],
        schema={"platform": pl.String, "city_id": pl.String, "account_handle": pl.String},
    )
    frame, stored = read_pull(platform, _documents_frame(documents, "pull-1", "run-1"))
    assert frame["unusable"].to_list() == quality.with_usability(frame.drop("unusable"))["unusable"].to_list()
    recorded = pl.DataFrame(
        [{"platform": platform, "pull_id": "pull-1", "sha256": "", **p} for p in problems],
        schema=PROBLEM_SCHEMA,
    )
    return drop_complete(platform, month, active, stored, recorded)


def without(documents, handle: str, endpoint: str, pages: Callable[[int], bool] = lambda _: True) -> list:
    return [
        d for d in documents if not (d.account_handle == handle and d.endpoint == endpoint and pages(d.page))
    ]


def edited(documents, handle: str, endpoint: str, page: int, edit: Callable[[dict], object]) -> list:
    """The documents with one body changed by `edit` (which changes the payload in place)."""
    changed = []
    for doc in documents:
        if (doc.account_handle, doc.endpoint, doc.page) == (handle, endpoint, page):
            payload = json.loads(doc.body)
            edit(payload)
            doc = RawDocument(**{**_fields(doc), "body": json.dumps(payload)})
        changed.append(doc)
    return changed


def _fields(doc: RawDocument) -> dict:
    return {name: getattr(doc, name) for name in RawDocument.__dataclass_fields__ if name != "sha256"}


def gaps(finding: quality.Finding) -> list[tuple[str, str, str]]:
    return [(row["account_handle"], row["endpoint"], row["missing"]) for row in finding.sample]


def last_page(documents, handle: str, endpoint: str) -> int:
    return max(d.page for d in documents if d.account_handle == handle and d.endpoint == endpoint)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_simulated_month_is_complete(platform):
    finding = check(platform, list(simulated(platform)[1]))
    assert finding.passed, finding.sample
    assert finding.extra["explained"] == []


@pytest.mark.parametrize(("platform", "endpoint"), [("facebook", "posts"), ("instagram", "media")])
def test_a_page_left_out_is_a_gap_naming_the_page_that_points_to_it(platform, endpoint):
    handle = deepest(platform, endpoint)
    assert last_page(simulated(platform)[1], handle, endpoint) >= 5
    documents = without(simulated(platform)[1], handle, endpoint, lambda page: page == 2)
    finding = check(platform, documents)
    assert not finding.passed
    assert gaps(finding)[0] == (handle, endpoint, f"{endpoint} page 2 (paging.next of page 1)")
    assert "deliver what is missing" in finding.fix


def test_an_x_page_whose_next_token_leads_nowhere_stored_is_a_gap():
    accounts, documents = simulated("x")
    handle = accounts[2].account_handle
    pointing = edited(
        documents,
        handle,
        "tweets",
        1,
        lambda p: p.setdefault("meta", {}).update(next_token="7140dibdnow9c7btw3w29grvxfcgvpb8"),
    )
    assert gaps(check("x", pointing)) == [(handle, "tweets", "tweets page 2 (meta.next_token of page 1)")]


def test_every_page_left_out_is_named_and_the_later_pages_still_followed():
    handle = deepest("facebook", "posts")
    documents = without(simulated("facebook")[1], handle, "posts", lambda page: page in (2, 5))
    missing = [row[2] for row in gaps(check("facebook", documents))]
    assert (
        "posts page 2 (paging.next of page 1)" in missing
        and "posts page 5 (paging.next of page 4)" in missing
    )


@pytest.mark.parametrize(
    ("platform", "lookup", "of"),
    [("facebook", "post_insights", "posts"), ("instagram", "media_insights", "media")],
)
def test_insights_left_out_for_some_posts_is_a_gap_naming_them(platform, lookup, of):
    handle = deepest(platform, lookup)
    (dropped,) = [
        d for d in simulated(platform)[1] if (d.account_handle, d.endpoint, d.page) == (handle, lookup, 2)
    ]
    ids = list(json.loads(dropped.body))
    finding = check(platform, without(simulated(platform)[1], handle, lookup, lambda page: page == 2))
    ((account, endpoint, missing),) = gaps(finding)
    assert (account, endpoint) == (handle, lookup)
    assert missing.startswith(f"{lookup} of {len(ids)} {of}: {', '.join(ids[:5])}, …")


def test_a_video_of_the_month_without_its_videos_entry_is_a_gap():
    documents = simulated("youtube")[1]
    handle = next(d.account_handle for d in documents if d.endpoint == "videos")
    (videos,) = [d for d in documents if (d.account_handle, d.endpoint) == (handle, "videos")]
    ids = [item["id"] for item in json.loads(videos.body)["items"]]
    finding = check("youtube", without(documents, handle, "videos"))
    assert gaps(finding) == [
        (
            handle,
            "videos",
            f"videos of {len(ids)} playlist items: " + ", ".join(ids[:5]) + (", …" if len(ids) > 5 else ""),
        )
    ]


def test_posts_outside_the_month_need_no_insights():
    handle = deepest("facebook", "posts")
    documents = edited(
        simulated("facebook")[1], handle, "posts", 1,
        lambda payload: payload["data"].append({**payload["data"][0], "id": "outside_1", "created_time": BEFORE_SEPTEMBER}),
    )  # fmt: skip
    assert check("facebook", documents).passed


@pytest.mark.parametrize(
    ("platform", "endpoint", "missing"),
    [
        ("facebook", "page", "no page document"),
        ("facebook", "posts", "no posts document"),
        ("instagram", "user", "no user document"),
        ("instagram", "media", "no media document"),
        ("x", "user", "no user document"),
        ("x", "tweets", "no tweets document"),
        ("youtube", "channel", "no channel document"),
        ("youtube", "playlist_items", "no playlist_items document"),
    ],
)
def test_an_endpoint_an_account_needs_left_out_is_a_gap(platform, endpoint, missing):
    accounts, documents = simulated(platform)
    handle = accounts[3].account_handle
    finding = check(platform, without(documents, handle, endpoint))
    assert (handle, endpoint, missing) in gaps(finding)


def test_an_active_account_with_nothing_at_all_is_a_gap_unless_the_platform_reported_it_gone():
    accounts, documents = simulated("facebook")
    handle = accounts[0].account_handle
    left = [d for d in documents if d.account_handle != handle]
    assert gaps(check("facebook", left))[:2] == [
        (handle, "page", "no page document"),
        (handle, "posts", "no posts document"),
    ]
    gone = {"account_handle": handle, "location": "https://graph.facebook.com/v21.0/1?fields=id",
            "reason": f"facebook account {handle} unavailable: HTTP 400 (code 100) does not exist"}  # fmt: skip
    finding = check("facebook", left, [gone])
    assert finding.passed
    (explained,) = finding.extra["explained"]
    assert explained["account_handle"] == handle and "does not exist" in explained["cause"]


def test_a_user_or_channel_the_platform_did_not_find_needs_no_listing():
    x_accounts, x_documents = simulated("x")
    handle = x_accounts[0].account_handle
    not_found = edited(
        without(x_documents, handle, "tweets"),
        handle,
        "user",
        1,
        lambda p: p.update(data=None, errors=[{"title": "Not Found Error"}]),
    )
    assert check("x", not_found).passed
    yt_accounts, yt_documents = simulated("youtube")
    channel = yt_accounts[0].account_handle
    bare = [d for d in yt_documents if not (d.account_handle == channel and d.endpoint != "channel")]
    assert not check("youtube", bare).passed
    no_videos = edited(
        bare, channel, "channel", 1, lambda p: p["items"][0]["statistics"].update(videoCount="0")
    )
    assert check("youtube", no_videos).passed
    gone = edited(bare, channel, "channel", 1, lambda p: p.update(items=[]))
    assert check("youtube", gone).passed


SWEPT = {
    # platform: (listing, its cursor, its items, where an item's time is, a cursor to put on a page)
    "instagram": ("media", "paging.next", "data", ("timestamp",),
                  lambda p: p.setdefault("paging", {}).update(next="https://graph.facebook.com/v21.0/1/media?after=z")),
    "youtube": ("playlist_items", "nextPageToken", "items", ("contentDetails", "videoPublishedAt"),
                lambda p: p.update(nextPageToken="EAAaB1BUOkNESQ")),
}  # fmt: skip


def _retimed(item: dict, path: tuple[str, ...], when: str) -> dict:
    copy = json.loads(json.dumps(item))
    *parents, leaf = path
    holder = copy
    for key in parents:
        holder = holder[key]
    holder[leaf] = when
    return copy


@pytest.mark.parametrize("platform", sorted(SWEPT))
def test_a_listing_paged_until_past_the_months_start_may_end_on_a_cursor_once_it_reaches_before_it(platform):
    endpoint, cursor_name, items, time_path, add_cursor = SWEPT[platform]
    documents = simulated(platform)[1]
    handle = deepest(platform, endpoint)
    last = last_page(documents, handle, endpoint)

    def reaching_before(payload: dict) -> None:
        add_cursor(payload)
        payload[items].append(_retimed(payload[items][-1], time_path, "2024-08-20T03:00:00Z"))

    def within_the_month(payload: dict) -> None:
        add_cursor(payload)
        payload[items] = [_retimed(item, time_path, "2024-09-15T03:00:00Z") for item in payload[items]]

    assert check(platform, edited(documents, handle, endpoint, last, reaching_before)).passed
    finding = check(platform, edited(documents, handle, endpoint, last, within_the_month))
    assert (handle, endpoint, f"{endpoint} page {last + 1} ({cursor_name} of page {last})") in gaps(finding)


def test_an_unusable_page_is_a_gap_and_what_follows_it_is_unknowable():
    handle = deepest("facebook", "posts")
    documents = simulated("facebook")[1]
    broken = [
        RawDocument(**{**_fields(d), "body": d.body[:40]})
        if (d.account_handle, d.endpoint, d.page) == (handle, "posts", 3)
        else d
        for d in documents
    ]
    finding = check("facebook", broken)
    assert not finding.passed, "the posts of the broken page are missing from the month"
    assert gaps(finding) == [(handle, "posts", "the records of posts page 3")]
    assert "unusable" in finding.sample[0]["cause"]
    finding = check("facebook", without(broken, handle, "posts", lambda page: page > 3))
    assert gaps(finding) == [
        (handle, "posts", "the records of posts page 3"),
        (handle, "posts", "posts after page 3"),
    ]
    assert "unknowable" in finding.sample[1]["cause"]


def test_a_file_the_source_could_not_store_is_a_gap_with_its_cause_and_a_stray_file_is_shown_beside():
    handle = deepest("facebook", "posts")
    documents = without(simulated("facebook")[1], handle, "posts", lambda page: page == 3)
    unreadable = {"account_handle": handle, "location": f"landing://facebook/2024-09/{handle}/posts-3.json",
                  "reason": "not UTF-8 (invalid start byte at byte 7)"}  # fmt: skip
    finding = check("facebook", documents, [unreadable])
    assert gaps(finding) == [(handle, "posts", "posts page 3 (paging.next of page 2)")]
    assert "could not be stored (not UTF-8" in finding.sample[0]["cause"]
    stray = {**unreadable, "location": f"landing://facebook/2024-09/{handle}/posts-3.json.bak",
             "reason": "not a `<endpoint>[-<page>].json` file"}  # fmt: skip
    finding = check("facebook", documents, [stray])
    assert not finding.passed
    assert finding.sample[0]["recorded_problem"] == stray["reason"], "shown beside the gap"


def test_a_readable_document_that_is_no_page_of_the_listing_is_a_gap_but_an_empty_x_page_is_not():
    handle = deepest("x", "tweets")
    documents = simulated("x")[1]
    user = next(d for d in documents if d.account_handle == handle and d.endpoint == "user")
    swapped = [
        RawDocument(**{**_fields(d), "body": user.body}) if (d.account_handle, d.endpoint, d.page) ==
        (handle, "tweets", 1) else d
        for d in documents
    ]  # fmt: skip
    finding = check("x", swapped)
    assert gaps(finding)[0] == (handle, "tweets", "the records of tweets page 1")
    assert "not a tweets page: 'data' is not a list" in finding.sample[0]["cause"]

    empty = '{"meta": {"result_count": 0}}'  # X leaves `data` out of a month without tweets
    quiet = [
        RawDocument(**{**_fields(d), "body": empty}) if (d.account_handle, d.endpoint) == (handle, "tweets") and
        d.page == 1 else d
        for d in without(documents, handle, "tweets", lambda page: page > 1)
    ]  # fmt: skip
    assert check("x", quiet).passed
