"""The X API v2 source: partial errors kept as documents, `next_token` paging, an unknown user."""

from __future__ import annotations

import json

from support.api_server import (
    SEPTEMBER,
    X_USER,
    X_USER_PATH,
    account,
    expect,
    pull_x,
    queries_to,
    serve_x,
    shape,
)

from cityindex_pipeline.parsing import parse_document
from cityindex_pipeline.sources.simulated.x import X_TWEET_PARAMS

X_TWEETS_QUERY = {"start_time": "2024-08-31T16:00:00Z", "end_time": "2024-09-30T16:00:00Z", **X_TWEET_PARAMS}


def test_an_x_partial_error_is_a_document(server, make_source):
    tweet = {
        "id": "1840000000000000001",
        "text": "Golden hour over the riverside #VisitNanjing",
        "created_at": "2024-09-30T02:00:00.000Z",
        "edit_history_tweet_ids": ["1840000000000000001"],
        "public_metrics": {"retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 0},
    }
    partial = {
        "data": [tweet],
        "errors": [
            {
                "title": "Not Found Error",
                "detail": "Could not find media",
                "type": "https://api.x.com/2/problems/resource-not-found",
            }
        ],
        "meta": {"result_count": 1, "newest_id": tweet["id"], "oldest_id": tweet["id"]},
    }
    serve_x(server, partial)
    documents = pull_x(make_source)
    assert shape(documents) == [("user", 1), ("tweets", 1)]
    assert json.loads(documents[1].body) == partial
    parsed = parse_document("x", "tweets", documents[1].body)
    assert len(parsed.rows) == 1 and [r.reason for r in parsed.rejected] == ["partial error returned by X"]
    query = queries_to(server, "/2/users/42/tweets")[0]
    assert (query["start_time"], query["end_time"]) == ("2024-08-31T16:00:00Z", "2024-09-30T16:00:00Z")


def test_x_follows_next_token_and_an_unknown_user_gets_no_tweets(server, make_source):
    expect(server, X_USER_PATH).respond_with_json(X_USER)
    path = "/2/users/42/tweets"
    expect(server, path, X_TWEETS_QUERY).respond_with_json({"meta": {"result_count": 0, "next_token": "t2"}})
    expect(server, path, {**X_TWEETS_QUERY, "pagination_token": "t2"}).respond_with_json(
        {"meta": {"result_count": 0}}
    )
    missing = {
        "errors": [{"detail": "Could not find user with username: [Gone].", "title": "Not Found Error"}]
    }
    expect(server, "/2/users/by/username/Gone").respond_with_json(missing)
    accounts = [account("x", "VisitNanjing", "42"), account("x", "Gone", "43")]
    documents = list(make_source().pull(SEPTEMBER, "x", accounts))
    assert [(d.account_handle, d.endpoint, d.page) for d in documents] == [
        ("VisitNanjing", "user", 1),
        ("VisitNanjing", "tweets", 1),
        ("VisitNanjing", "tweets", 2),
        ("Gone", "user", 1),
    ]
    assert documents[2].request_url.endswith("&pagination_token=t2")
