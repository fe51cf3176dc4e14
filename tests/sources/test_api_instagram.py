"""The Instagram Graph API source: media paged until past the month, insights for its media."""

from __future__ import annotations

from typing import Any

from support.api_server import (
    SEPTEMBER,
    SINCE,
    TOKEN,
    UNTIL,
    account,
    assert_parses_cleanly,
    base_of,
    expect,
    graph,
    queries_to,
    serve_insights,
    shape,
)

from cityindex_pipeline.sources.simulated.instagram import IG_MEDIA_FIELDS


def instagram_media(media_id: str, when: str) -> dict[str, Any]:
    return {
        "id": media_id,
        "media_type": "IMAGE",
        "media_product_type": "FEED",
        "permalink": f"https://www.instagram.com/p/{media_id}/",
        "timestamp": when,
        "comments_count": 1,
    }


def test_instagram_pages_only_until_past_the_month_and_asks_insights_for_its_media(server, make_source):
    """The media edge may ignore since/until: every page fetched is stored, insights only for the month."""
    path, base = "/v22.0/178/media", base_of(server)
    user_fields = "id,username,name,followers_count,follows_count,media_count"
    expect(server, "/v22.0/178", graph(fields=user_fields)).respond_with_json(
        {"id": "178", "followers_count": 9}
    )
    newest = [
        instagram_media("m-oct", "2024-10-01T09:00:00+0000"),
        instagram_media("m-sep", "2024-09-15T09:00:00+0000"),
    ]
    older = [
        instagram_media("m-sep-first-hour", "2024-08-31T16:30:00+0000"),
        instagram_media("m-aug", "2024-08-20T09:00:00+0000"),
    ]
    window = graph(fields=IG_MEDIA_FIELDS, since=SINCE, until=UNTIL, limit="25")
    expect(server, path, window).respond_with_json(
        {"data": newest, "paging": {"next": f"{base}{path}?after=c2&access_token={TOKEN}"}}
    )
    expect(server, path, graph(after="c2")).respond_with_json(
        {"data": older, "paging": {"next": f"{base}{path}?after=c3&access_token={TOKEN}"}}
    )
    ids = ["m-sep", "m-sep-first-hour"]
    serve_insights(
        server, ids, "insights.metric(views,reach,saved)", {"views": 30, "reach": 20, "saved": 1}, "v22.0"
    )

    source = make_source(graph_version="v22.0")
    documents = list(source.pull(SEPTEMBER, "instagram", [account("instagram", "visitnanjing", "178")]))

    assert shape(documents) == [("user", 1), ("media", 1), ("media", 2), ("media_insights", 1)]
    assert [query.get("after") for query in queries_to(server, path)] == [None, "c2"], "c3 is never asked for"
    assert_parses_cleanly(documents)
