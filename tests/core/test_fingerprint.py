"""Fingerprints: the same content gives the same digest whatever its row order or the run that wrote it;
any changed value gives another."""

from __future__ import annotations

import hashlib

import polars as pl

from cityindex_pipeline.core.fingerprint import documents_sha256, frame_sha256, tables_sha256

POSTS = pl.DataFrame(
    {"post_id": ["a", "b", "c"], "likes": [3, None, 5], "score": [0.1, 0.2, 1 / 3], "run_id": ["r1"] * 3}
)


def test_row_order_column_order_and_the_run_do_not_change_the_fingerprint():
    shuffled = POSTS.reverse().select("score", "run_id", "likes", "post_id").with_columns(run_id=pl.lit("r2"))
    assert frame_sha256(shuffled) == frame_sha256(POSTS)


def test_any_changed_value_changes_the_fingerprint():
    digests = {
        frame_sha256(POSTS),
        frame_sha256(POSTS.with_columns(likes=pl.Series([3, 0, 5]))),  # withheld is not zero
        frame_sha256(POSTS.with_columns(score=pl.Series([0.1, 0.2, 0.3333333333333333 + 1e-16]))),
        frame_sha256(POSTS.head(2)),
    }
    assert len(digests) == 4


def test_the_canonical_form_can_be_recomputed_from_the_rows():
    lines = sorted(POSTS.drop("run_id").select(sorted(POSTS.columns[:-1])).write_ndjson().splitlines())
    expected = hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()
    assert frame_sha256(POSTS) == expected
    assert frame_sha256(POSTS.clear()) == hashlib.sha256(b"").hexdigest()


def test_tables_are_told_apart_by_name():
    assert tables_sha256({"clean.posts": POSTS}) != tables_sha256({"clean.quarantine": POSTS})
    assert tables_sha256({"a": POSTS, "b": POSTS.head(1)}) == tables_sha256({"b": POSTS.head(1), "a": POSTS})


def test_documents_are_fingerprinted_by_their_own_sha256():
    documents = pl.DataFrame(
        {
            "platform": ["x", "x"],
            "account_handle": ["NanjingCity", "NanjingCity"],
            "endpoint": ["tweets", "tweets"],
            "page": [1, 2],
            "sha256": ["aa", "bb"],
        }
    )
    assert documents_sha256(documents) == documents_sha256(documents.reverse())
    assert documents_sha256(documents) != documents_sha256(documents.with_columns(sha256=pl.lit("aa")))


def test_chunks_of_rows_give_the_digest_of_the_whole_frame():
    texts = ["a\u2028b", "emoji \U0001f600", "中文", "line\nbreak", "", None, "z\x85", "tab\t"] * 5
    frame = pl.DataFrame({"n": list(range(len(texts))), "text": texts})
    whole = sorted(frame.write_ndjson().splitlines())
    expected = hashlib.sha256("".join(f"{line}\n" for line in whole).encode()).hexdigest()
    assert {frame_sha256(frame, rows_per_chunk=size) for size in (1, 3, 7, 1000)} == {expected}
