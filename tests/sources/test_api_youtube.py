"""The YouTube Data API source: the playlist paged back to the month, videos looked up in fifties,
a channel gone, and the daily quota that stops a pull which a later run resumes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from support.api_server import (
    SEPTEMBER,
    TOKEN,
    account,
    assert_parses_cleanly,
    expect,
    queries_to,
    serve_simulated,
    shape,
)

from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.base import QuotaExceededError
from cityindex_pipeline.sources.ingest import pull_month
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.warehouse.store import Warehouse


def playlist_item(video_id: str, published: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"videoId": video_id}
    if published is not None:
        details["videoPublishedAt"] = published
    return {
        "kind": "youtube#playlistItem",
        "etag": f"e{video_id}",
        "id": f"item-{video_id}",
        "snippet": {
            "publishedAt": published or "2024-09-01T00:00:00Z",
            "channelId": "UC1",
            "title": video_id,
        },
        "contentDetails": details,
    }


def test_youtube_pages_back_to_the_month_and_looks_up_its_videos_in_fifties(server, make_source):
    channel = {
        "kind": "youtube#channelListResponse",
        "items": [
            {
                "id": "UC1",
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": "UU1"}},
                "statistics": {
                    "viewCount": "10",
                    "subscriberCount": "5",
                    "hiddenSubscriberCount": False,
                    "videoCount": "120",
                },
            }
        ],
    }
    expect(
        server,
        "/youtube/v3/channels",
        {"part": "snippet,statistics,contentDetails", "id": "UC1", "key": TOKEN},
    ).respond_with_json(channel)
    october = [playlist_item(f"oct{n:02d}", f"2024-10-0{1 + n % 2}T03:00:00Z") for n in range(10)]
    september = [playlist_item(f"sep{n:02d}", f"2024-09-{29 - n // 3:02d}T03:00:00Z") for n in range(65)]
    private = playlist_item("private1", None)
    august = [playlist_item(f"aug{n:02d}", f"2024-08-{30 - n // 3:02d}T03:00:00Z") for n in range(24)]
    listed = [*october, *september[:39], private, *september[39:], *august]
    pages = [listed[:50], listed[50:100], [playlist_item("aug-older", "2024-07-01T00:00:00Z")]]
    playlist = {"part": "snippet,contentDetails", "playlistId": "UU1", "maxResults": "50", "key": TOKEN}
    for number, items in enumerate(pages):
        query = {**playlist, **({"pageToken": f"p{number}"} if number else {})}
        expect(server, "/youtube/v3/playlistItems", query).respond_with_json(
            {"kind": "youtube#playlistItemListResponse", "nextPageToken": f"p{number + 1}", "items": items}
        )
    video_ids = [f"sep{n:02d}" for n in range(65)]
    for batch in (video_ids[:50], video_ids[50:]):
        videos = [
            {
                "id": video_id,
                "snippet": {"publishedAt": "2024-09-20T03:00:00Z", "title": video_id, "description": ""},
                "contentDetails": {"duration": "PT4M13S"},
                "statistics": {"viewCount": "100", "likeCount": "5", "commentCount": "1"},
            }
            for video_id in batch
        ]
        query = {"part": "snippet,statistics,contentDetails", "id": ",".join(batch), "key": TOKEN}
        expect(server, "/youtube/v3/videos", query).respond_with_json(
            {"kind": "youtube#videoListResponse", "items": videos}
        )

    documents = list(make_source().pull(SEPTEMBER, "youtube", [account("youtube", "VisitNanjing", "UC1")]))

    assert shape(documents) == [
        ("channel", 1),
        ("playlist_items", 1),
        ("playlist_items", 2),
        ("videos", 1),
        ("videos", 2),
    ]
    assert [q.get("pageToken") for q in queries_to(server, "/youtube/v3/playlistItems")] == [None, "p1"]
    assert [q["id"].split(",") for q in queries_to(server, "/youtube/v3/videos")] == [
        video_ids[:50],
        video_ids[50:],
    ]
    assert all("key=" not in doc.request_url for doc in documents)
    assert_parses_cleanly([doc for doc in documents if doc.endpoint != "playlist_items"])


def test_a_channel_gone_or_without_uploads_gives_just_the_channel(server, make_source):
    channel_query = {"part": "snippet,statistics,contentDetails", "key": TOKEN}
    expect(server, "/youtube/v3/channels", {**channel_query, "id": "UCgone"}).respond_with_json({"items": []})
    uploads = {"contentDetails": {"relatedPlaylists": {"uploads": "UUempty"}}, "id": "UCempty"}
    expect(server, "/youtube/v3/channels", {**channel_query, "id": "UCempty"}).respond_with_json(
        {"items": [uploads]}
    )
    not_found = {
        "error": {"code": 404, "message": "Playlist not found", "errors": [{"reason": "playlistNotFound"}]}
    }
    expect(server, "/youtube/v3/playlistItems").respond_with_json(not_found, status=404)
    accounts = [account("youtube", "Gone", "UCgone"), account("youtube", "Empty", "UCempty")]
    documents = list(make_source().pull(SEPTEMBER, "youtube", accounts))
    assert [(d.account_handle, d.endpoint) for d in documents] == [("Gone", "channel"), ("Empty", "channel")]


# --- the daily quota ------------------------------------------------------------------------------------------


def test_youtube_quota_exceeded_stops_at_once(server, make_source, sleeps):
    quota = {
        "error": {
            "code": 403,
            "message": "The request cannot be completed because you have exceeded your quota.",
            "errors": [{"message": "quota", "domain": "youtube.quota", "reason": "quotaExceeded"}],
        }
    }
    expect(server, "/youtube/v3/channels").respond_with_json(quota, status=403)
    with pytest.raises(QuotaExceededError, match="quotaExceeded") as raised:
        list(make_source().pull(SEPTEMBER, "youtube", [account("youtube", "VisitNanjing", "UC1")]))
    assert TOKEN not in str(raised.value)
    assert len(server.log) == 1 and sleeps == []


def test_a_pull_stopped_by_the_quota_resumes_after_the_stored_channels(server, make_source, tmp_path):
    accounts = load_registry().accounts_for("youtube")[:6]
    simulated = list(SimulatedSource().pull(SEPTEMBER, "youtube", accounts))
    quota = {"error": {"code": 403, "message": "quota", "errors": [{"reason": "quotaExceeded"}]}}
    spent_at = accounts[3].platform_account_id
    expect(
        server,
        "/youtube/v3/channels",
        {"part": "snippet,statistics,contentDetails", "id": spent_at, "key": TOKEN},
    ).respond_with_json(quota, status=403)
    serve_simulated(server, simulated)
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema()

    with pytest.raises(QuotaExceededError):
        pull_month(make_source(), warehouse, SEPTEMBER, "youtube", accounts, run_id="run-1")
    unfinished = warehouse.unfinished_pull(SEPTEMBER, "youtube", "api")
    assert unfinished is not None
    # the third channel was fetched whole, but an account counts as received only once the source has
    # moved past it: the one in flight when the pull stopped is asked again
    assert warehouse.stored_accounts(str(unfinished["pull_id"])) == {a.account_handle for a in accounts[:2]}

    server.clear()
    serve_simulated(server, simulated)
    summary = pull_month(make_source(), warehouse, SEPTEMBER, "youtube", accounts, run_id="run-2")

    assert summary.resumed and summary.accounts_skipped_as_stored == 2
    asked = {dict(parse_qsl(request.query_string.decode())).get("id") for request, _ in server.log}
    assert {a.platform_account_id for a in accounts[:2]}.isdisjoint(asked), "stored channels not asked again"
    assert {a.platform_account_id for a in accounts[2:]} <= asked
    stored = warehouse.read_month("raw.documents", SEPTEMBER)
    assert stored.height == len(simulated), "every document once: nothing lost, nothing twice"
    assert stored["pull_id"].unique().to_list() == [str(unfinished["pull_id"])]
