"""The simulated source is deterministic, emits the platforms' documents with their quirks, and has signal."""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from support.accounts import (
    PAGED_ENDPOINTS,
    PLATFORMS,
    SAMPLE_MONTHS,
    SEPTEMBER,
    handful,
    make_account,
    sample,
)

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.parsing import PROFILE_ENDPOINTS, parse_document
from cityindex_pipeline.sources.base import ENDPOINTS, RawDocument, sha256_hex
from cityindex_pipeline.sources.simulated import DEFAULT_SEED, SimulatedSource


def all_sample_documents(platform: str) -> list[RawDocument]:
    return [doc for month in SAMPLE_MONTHS for doc in sample(platform, month)]


def fingerprint(documents: list[RawDocument]) -> list[tuple[Any, ...]]:
    return [
        (d.account_handle, d.endpoint, d.page, d.body, d.request_url, d.fetched_at, d.source)
        for d in documents
    ]


def payloads(documents: list[RawDocument], endpoint: str) -> list[Any]:
    return [json.loads(d.body) for d in documents if d.endpoint == endpoint]


def grouped(documents: list[RawDocument]) -> dict[tuple[str, str, str], list[RawDocument]]:
    groups: dict[tuple[str, str, str], list[RawDocument]] = defaultdict(list)
    for doc in documents:
        groups[(str(doc.month), doc.account_handle, doc.endpoint)].append(doc)
    return groups


def followers_of(doc: RawDocument) -> int | None:
    return parse_document(doc.platform, doc.endpoint, doc.body).rows[0]["followers"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_pull_is_byte_identical_and_independent_of_other_accounts(platform: str) -> None:
    accounts = handful(platform)
    first = list(SimulatedSource().pull(SEPTEMBER, platform, accounts))
    list(SimulatedSource().pull(Month(2024, 7), platform, accounts))  # another month first changes nothing
    second = list(SimulatedSource().pull(SEPTEMBER, platform, reversed(accounts)))
    alone = list(SimulatedSource(DEFAULT_SEED).pull(SEPTEMBER, platform, [accounts[0]]))
    among = [d for d in first if d.account_handle == accounts[0].account_handle]
    assert alone and fingerprint(alone) == fingerprint(among)
    assert sorted(fingerprint(first)) == sorted(fingerprint(second))
    other_seed = list(SimulatedSource(seed=7).pull(SEPTEMBER, platform, [accounts[0]]))
    assert fingerprint(other_seed) != fingerprint(alone)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_account_yields_nothing_before_it_opened(platform: str) -> None:
    late = handful(platform)[-1]
    assert list(SimulatedSource().pull(SEPTEMBER, platform, [late])) == []
    october = list(SimulatedSource().pull(Month(2024, 10), platform, [late]))
    assert october[0].endpoint == ENDPOINTS[platform][0]
    opened = datetime(2024, 10, 14, 16, tzinfo=UTC)  # 15 October, 00:00 Beijing time
    for doc in october:
        for row in parse_document(platform, doc.endpoint, doc.body).rows:
            if "published_at_utc" in row and doc.endpoint != "playlist_items":
                assert row["published_at_utc"] >= opened


@pytest.mark.parametrize("platform", PLATFORMS)
def test_documents_are_json_with_matching_digests_and_parse_cleanly(platform: str) -> None:
    month_end = SEPTEMBER.end_utc
    for doc in sample(platform, SEPTEMBER):
        json.loads(doc.body)
        assert doc.sha256 == sha256_hex(doc.body)
        assert doc.source == "simulated" and doc.month == SEPTEMBER
        assert doc.fetched_at.tzinfo is not None and month_end < doc.fetched_at < month_end + timedelta(
            days=5
        )
        assert "access_token" not in doc.request_url and "key=" not in doc.request_url
        assert doc.request_url.startswith("https://")
        assert parse_document(platform, doc.endpoint, doc.body).rejected == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_endpoints_come_in_order_and_pages_count_from_one(platform: str) -> None:
    order = ENDPOINTS[platform]
    by_account: dict[str, list[RawDocument]] = defaultdict(list)
    for doc in sample(platform, SEPTEMBER):
        by_account[doc.account_handle].append(doc)
    for documents in by_account.values():
        positions = [order.index(doc.endpoint) for doc in documents]
        assert positions == sorted(positions) and positions[:2] == [0, 1]
        for endpoint in set(doc.endpoint for doc in documents):
            assert [d.page for d in documents if d.endpoint == endpoint] == list(
                range(1, 1 + sum(d.endpoint == endpoint for d in documents))
            )


def _next_link(doc: RawDocument) -> str | None:
    """The link or token a client follows to the next page, whatever the platform calls it."""
    payload = json.loads(doc.body)
    if doc.platform in ("facebook", "instagram"):
        return (payload.get("paging") or {}).get("next")
    if doc.platform == "x":
        return payload["meta"].get("next_token")
    return payload.get("nextPageToken")


@pytest.mark.parametrize("platform", PLATFORMS)
def test_paging_links_are_on_every_page_but_the_last_and_lead_to_the_next(platform: str) -> None:
    multi_page = 0
    for (_, _, endpoint), documents in grouped(all_sample_documents(platform)).items():
        if endpoint not in PAGED_ENDPOINTS:
            continue
        links = [_next_link(doc) for doc in documents]
        assert links[-1] is None and all(links[:-1])
        multi_page += len(documents) > 1
        for link, following in zip(links, documents[1:], strict=False):
            if platform in ("facebook", "instagram"):
                assert following.request_url == link
            else:
                assert following.request_url.endswith(
                    f"Token={link}" if platform == "youtube" else f"token={link}"
                )
    assert multi_page > 0 or platform in ("x", "youtube")


def test_youtube_counts_are_strings_and_videos_are_the_months_uploads() -> None:
    documents = all_sample_documents("youtube")
    for payload in payloads(documents, "channel"):
        statistics_ = payload["items"][0]["statistics"]
        assert all(isinstance(statistics_[k], str) for k in ("viewCount", "videoCount"))
        assert isinstance(statistics_["hiddenSubscriberCount"], bool)
    for payload in payloads(documents, "videos"):
        for video in payload["items"]:
            assert all(isinstance(value, str) and value.isdigit() for value in video["statistics"].values())
    for (month_text, _, _), group in grouped(documents).items():
        month = Month.parse(month_text)
        if group[0].endpoint != "videos":
            continue
        for doc in group:
            for row in parse_document("youtube", "videos", doc.body).rows:
                assert month.contains(row["published_at_utc"])


def test_youtube_playlist_brackets_the_month() -> None:
    groups = grouped(all_sample_documents("youtube"))
    before = after = 0
    for (month_text, handle, endpoint), group in groups.items():
        if endpoint != "playlist_items":
            continue
        month = Month.parse(month_text)
        times = [
            row["published_at_utc"] for d in group for row in parse_document("youtube", endpoint, d.body).rows
        ]
        assert times == sorted(times, reverse=True)
        before += sum(t < month.start_utc for t in times)
        after += sum(t >= month.end_utc for t in times)
        in_month = sum(month.contains(t) for t in times)
        videos = groups.get((month_text, handle, "videos"), [])
        assert (in_month > 0) == bool(videos)
    assert before > 0 and after > 0


def test_facebook_quirks_appear_over_a_sample() -> None:
    facebook = all_sample_documents("facebook")
    fb_posts = [post for payload in payloads(facebook, "posts") for post in payload["data"]]
    assert any("shares" not in post for post in fb_posts)
    assert any("message" not in post for post in fb_posts)
    assert any(not page["data"] and "next" in page.get("paging", {}) for page in payloads(facebook, "posts"))
    kinds = {post["status_type"] for post in fb_posts}
    assert kinds == {"added_photos", "added_video", "mobile_status_update", "shared_story"}


def _reactions(post: dict[str, Any]) -> int:
    return post["reactions"]["summary"]["total_count"]


def test_a_post_seen_on_two_pages_has_higher_counts_on_the_later_one() -> None:
    duplicated = 0
    for platform in ("facebook", "instagram"):
        for (_, _, endpoint), group in grouped(all_sample_documents(platform)).items():
            if endpoint not in ("posts", "media"):
                continue
            pages = [{item["id"]: item for item in json.loads(d.body)["data"]} for d in group]
            for earlier, later in itertools.pairwise(pages):
                for post_id in earlier.keys() & later.keys():
                    duplicated += 1
                    if platform == "facebook":
                        assert _reactions(later[post_id]) > _reactions(earlier[post_id])
    assert duplicated > 0


def test_hidden_counts_appear_over_a_sample() -> None:
    instagram_media = [m for p in payloads(all_sample_documents("instagram"), "media") for m in p["data"]]
    assert any("like_count" not in media for media in instagram_media)
    assert {m["media_product_type"] for m in instagram_media} == {"REELS", "FEED"}
    youtube = all_sample_documents("youtube")
    videos = [v for payload in payloads(youtube, "videos") for v in payload["items"]]
    assert any("likeCount" not in video["statistics"] for video in videos)
    assert any("commentCount" not in video["statistics"] for video in videos)
    channels = [payload["items"][0]["statistics"] for payload in payloads(youtube, "channel")]
    hidden = [s for s in channels if s["hiddenSubscriberCount"]]
    assert hidden and all("subscriberCount" not in s for s in hidden)
    published = [video["snippet"]["publishedAt"] for video in videos]
    assert any("." in text for text in published) and any("." not in text for text in published)
    assert all(video["contentDetails"]["duration"].startswith("PT") for video in videos)


def test_x_quirks_appear_over_a_sample() -> None:
    x_pages = payloads(all_sample_documents("x"), "tweets")
    assert any(page == {"meta": {"result_count": 0}} for page in x_pages)
    media = [m for page in x_pages for m in page.get("includes", {}).get("media", [])]
    assert any(m["type"] == "video" and "view_count" in m["public_metrics"] for m in media)
    assert all("public_metrics" not in m for m in media if m["type"] == "photo")


@pytest.mark.parametrize("platform", ("facebook", "instagram", "x"))
def test_some_posts_fall_on_the_months_edges_in_beijing_time(platform: str) -> None:
    times = []
    for doc in sample(platform, SEPTEMBER):
        if doc.endpoint in ("posts", "media", "tweets"):
            times += [
                row["published_at_utc"] for row in parse_document(platform, doc.endpoint, doc.body).rows
            ]
    assert all(SEPTEMBER.contains(t) for t in times)
    assert any(t.date() == date(2024, 8, 31) for t in times)  # already September in Beijing
    assert any((SEPTEMBER.end_utc - t).total_seconds() < 3600 for t in times)


def _metric_names(platform: str, month: Month) -> set[str]:
    endpoint = {"facebook": "post_insights", "instagram": "media_insights"}[platform]
    names = set()
    for payload in payloads(list(SimulatedSource().pull(month, platform, handful(platform))), endpoint):
        names |= {metric["name"] for entry in payload.values() for metric in entry["insights"]["data"]}
    return names


def test_insight_metric_names_switch_at_the_documented_months() -> None:
    assert _metric_names("facebook", Month(2025, 10)) == {"post_impressions", "post_impressions_unique"}
    assert _metric_names("facebook", Month(2025, 11)) == {"post_media_view", "post_impressions_unique"}
    assert {"impressions", "reach", "saved"} <= _metric_names("instagram", Month(2024, 12)) <= {
        "impressions", "reach", "saved", "plays",
    }  # fmt: skip
    assert _metric_names("instagram", Month(2025, 1)) == {"views", "reach", "saved"}


def test_x_impressions_appear_from_july_2023() -> None:
    def impressions(month: Month) -> set[bool]:
        tweets = [
            t
            for p in payloads(list(SimulatedSource().pull(month, "x", handful("x"))), "tweets")
            for t in p.get("data", [])
        ]
        assert tweets
        return {"impression_count" in tweet["public_metrics"] for tweet in tweets}

    assert impressions(Month(2023, 6)) == {False}
    assert impressions(Month(2023, 7)) == {True}


def test_a_big_city_has_more_followers_than_a_small_one_over_many_seeds() -> None:
    strong = make_account("facebook", "nanjing", 1, date(2014, 4, 30))
    weak = make_account("facebook", "tianshui", 2, date(2014, 4, 30))
    gaps = []
    for seed in range(40):
        profiles = list(SimulatedSource(seed).pull(SEPTEMBER, "facebook", [strong, weak]))
        strong_followers, weak_followers = (followers_of(d) for d in profiles if d.endpoint == "page")
        gaps.append(math.log(strong_followers) - math.log(weak_followers))
    assert statistics.mean(gaps) > 1.0
    assert sum(gap > 0 for gap in gaps) >= 28


def test_followers_grow_from_one_month_to_the_next_for_most_accounts() -> None:
    for platform in PLATFORMS:
        profile = PROFILE_ENDPOINTS[platform]
        counts = {
            (str(d.month), d.account_handle): followers_of(d)
            for month in (SEPTEMBER, Month(2024, 10))
            for d in sample(platform, month)
            if d.endpoint == profile
        }
        pairs = [
            (counts[("2024-09", handle)], counts[("2024-10", handle)])
            for (month, handle) in counts
            if month == "2024-09" and counts[(month, handle)] is not None
        ]
        assert len(pairs) >= 40
        assert sum(after > before for before, after in pairs) >= 0.9 * len(pairs)
        assert max(after / before for before, after in pairs) < 1.1
