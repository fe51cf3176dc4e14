"""`trace`: every published score decomposes down to posts and the raw documents holding them, and
every level reconciles."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest

from cityindex_pipeline.audit.trace import TraceError, trace_city
from cityindex_pipeline.core.months import Month

SEPTEMBER = Month(2024, 9)


def test_every_city_of_the_month_reconciles_at_every_level(september_warehouse):
    cities = september_warehouse.read_month("clean.registry_cities", SEPTEMBER)["city_id"].to_list()
    assert len(cities) == 133
    with september_warehouse.session():
        for city in cities:
            traced = trace_city(september_warehouse, city, SEPTEMBER)
            assert traced["reconciled"], (city, [r for r in traced["reconciliations"] if not r["ok"]][:3])
            assert traced["publication"]["score"] == traced["score"]


def test_a_post_leads_to_the_raw_document_whose_sha256_recomputes_from_its_text(september_warehouse):
    traced = trace_city(september_warehouse, "Nanjing", SEPTEMBER, platform="facebook")
    (facebook,) = [entry for entry in traced["platforms"] if entry["platform"] == "facebook"]
    post = max(
        (post for account in facebook["accounts"] for post in account["posts_traced"]),
        key=lambda post: post["interactions"],
    )
    document = post["document"]
    stored = september_warehouse.query(
        "SELECT body, sha256 FROM raw.documents WHERE pull_id = $pull AND sha256 = $sha",
        {"pull": document["pull_id"], "sha": document["sha256"]},
    )
    body = stored["body"][0]
    assert hashlib.sha256(body.encode("utf-8")).hexdigest() == document["sha256"] == stored["sha256"][0]
    (record,) = [item for item in json.loads(body)["data"] if item["id"] == post["post_id"]]
    assert record["reactions"]["summary"]["total_count"] == post["likes"], "the count is the document's"
    assert document["endpoint"] == "posts" and document["page"] >= 1


def test_levels_reconcile_from_posts_up(september_warehouse):
    traced = trace_city(september_warehouse, "Hangzhou", SEPTEMBER)
    levels = [r["level"] for r in traced["reconciliations"]]
    assert any(level.startswith("published v1 score") for level in levels)
    assert any(level.endswith("= aggregate of the city's accounts") for level in levels)
    assert any("interactions = sum of its posts' interactions" in level for level in levels)
    assert any("sha256 recomputed" in level for level in levels)
    for entry in traced["platforms"]:
        for account in entry.get("accounts", []):
            assert len(account["posts_traced"]) == account["posts"]
            assert sum(post["interactions"] for post in account["posts_traced"]) == account["interactions"]


def test_a_platform_without_an_account_is_absent_not_zero(september_warehouse):
    accounts = september_warehouse.read_month("clean.registry_accounts", SEPTEMBER)
    on_youtube = set(accounts.filter(pl.col("platform") == "youtube")["city_id"])
    city = sorted(set(accounts["city_id"]) - on_youtube)[0]
    traced = trace_city(september_warehouse, city, SEPTEMBER)
    (youtube,) = [entry for entry in traced["platforms"] if entry["platform"] == "youtube"]
    assert youtube["present"] is False and youtube["score"] is None
    assert "no account" in youtube["note"]


def test_a_withheld_count_is_shown_as_withheld(september_warehouse):
    posts = september_warehouse.read_month("clean.posts", SEPTEMBER)
    unshared = posts.filter(pl.col("platform") == "facebook", pl.col("shares").is_null()).row(0, named=True)
    traced = trace_city(september_warehouse, unshared["city_id"], SEPTEMBER, platform="facebook")
    (post,) = [
        post
        for entry in traced["platforms"]
        for account in entry.get("accounts", [])
        for post in account["posts_traced"]
        if post["post_id"] == unshared["post_id"]
    ]
    assert post["withheld"] == ["shares"] and post["counts_given"]["shares"] is None


def test_an_unknown_publication_or_platform_is_a_clear_error(september_warehouse):
    with pytest.raises(TraceError, match=r"no publication v7; published: v1"):
        trace_city(september_warehouse, "Nanjing", SEPTEMBER, version=7)
    with pytest.raises(TraceError, match="unknown platform 'tiktok'"):
        trace_city(september_warehouse, "Nanjing", SEPTEMBER, platform="tiktok")
