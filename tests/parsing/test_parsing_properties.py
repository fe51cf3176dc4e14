"""Property-based tests: parsers accept any well-shaped document and fail only with typed, clear errors."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.accounts import make_account
from support.documents import facebook_posts, json_values, x_tweets, youtube_videos
from support.reading_helpers import assert_same_reading

from cityindex_pipeline.cleaning import account_metrics, clean_platform, profiles_of
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.method.config import load_methodology
from cityindex_pipeline.parsing import PARSERS, DocumentError, parse_document
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.base import ENDPOINTS, RawDocument
from cityindex_pipeline.sources.ingest import pull_month
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.warehouse.store import Warehouse


@given(facebook_posts())
def test_any_well_shaped_facebook_page_parses_without_rejection(payload):
    parsed = parse_document("facebook", "posts", json.dumps(payload))
    assert parsed.rejected == [] and len(parsed.rows) == len(payload["data"])
    for row, post in zip(parsed.rows, payload["data"], strict=True):
        assert row["shares"] == (post["shares"]["count"] if "shares" in post else None)
        assert row["likes"] == post["reactions"]["summary"]["total_count"]


@given(youtube_videos())
def test_any_well_shaped_youtube_page_parses_and_keeps_withheld_counts_null(payload):
    parsed = parse_document("youtube", "videos", json.dumps(payload))
    assert parsed.rejected == []
    for row, item in zip(parsed.rows, payload["items"], strict=True):
        stats = item["statistics"]
        assert row["likes"] == (int(stats["likeCount"]) if "likeCount" in stats else None)
        assert row["views"] == (int(stats["viewCount"]) if "viewCount" in stats else None)


@given(x_tweets())
def test_any_well_shaped_x_page_parses(payload):
    parsed = parse_document("x", "tweets", json.dumps(payload))
    assert parsed.rejected == [] and len(parsed.rows) == len(payload.get("data", []))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(st.sampled_from(sorted(PARSERS)), json_values)
def test_any_json_is_parsed_or_refused_with_a_typed_error(endpoint, payload):
    platform, name = endpoint
    try:
        parsed = parse_document(platform, name, json.dumps(payload))
    except DocumentError as error:
        assert str(error), "the error says what is wrong"
    else:
        for rejection in parsed.rejected:
            assert rejection.reason


@settings(max_examples=60)
@given(st.sampled_from(sorted(PARSERS)), st.text(max_size=200))
def test_any_text_is_parsed_or_refused_with_a_typed_error(endpoint, body):
    platform, name = endpoint
    with contextlib.suppress(DocumentError):
        parse_document(platform, name, body)


@given(facebook_posts(), st.sampled_from(["reactions", "comments"]), json_values)
def test_a_malformed_count_rejects_the_record_naming_the_field(payload, edge, bad):
    if (
        not payload["data"]
        or (isinstance(bad, int) and not isinstance(bad, bool) and 0 <= bad <= 2**53)
        or bad is None
    ):
        return
    payload["data"][0][edge] = {"summary": {"total_count": bad}}
    parsed = parse_document("facebook", "posts", json.dumps(payload))
    assert len(parsed.rows) == len(payload["data"]) - 1
    (rejection,) = parsed.rejected
    assert rejection.record_id == payload["data"][0]["id"] and edge in rejection.reason


# --- the whole raw -> clean path, on mutated real-shaped documents -------------------------------------
#
# Real-shaped documents (the hand-laid ones and a simulated account of each platform) are mutated as a
# careless or hostile vendor would (names dropped, repeated or renamed, values of another kind, huge,
# negative or fractional numbers, deep nesting, non-JSON literals, odd unicode, truncation, the wrong
# endpoint), stored by a real pull into a DuckDB file, cleaned, and written back through
# `Warehouse.replace_month`: nothing may raise, every document is read or refused with its reason, and
# the set-wise reading is the parsers' own.


@dataclass
class Obj:
    """An object that may repeat a name, as a hostile body can (a dict cannot)."""

    pairs: list[tuple[str, Any]]


@dataclass(frozen=True)
class Raw:
    """JSON text written as it is: NaN, 1e400, an integer of thousands of digits, deep nesting."""

    text: str


def as_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return Obj([(key, as_tree(item)) for key, item in value.items()])
    if isinstance(value, list):
        return [as_tree(item) for item in value]
    return value


def written(node: Any) -> str:
    if isinstance(node, Obj):
        return (
            "{"
            + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{written(v)}" for key, v in node.pairs)
            + "}"
        )
    if isinstance(node, list):
        return "[" + ",".join(written(item) for item in node) + "]"
    if isinstance(node, Raw):
        return node.text
    return json.dumps(node, ensure_ascii=False)


AWKWARD_TEXTS = ["🙂🙂", "e\u0301", "\u202eRTL", "a\u0000b", "\ufffd", "\u2028", "#北京 #tag", "", "   "]
AWKWARD_STRINGS = [
    "P99999999999D",
    "PT99999999999999999999S",
    "PT" + "9" * 5000 + "S",
    "P1DT2H",
    "PT٣S",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2024-09-31T00:00:00Z",
    "2024-09-02T00:00:00.1234567Z",
    "2024-09-02T00:00:00",
    "1" * 30,
    "-5",
]
hostile_values = st.one_of(
    json_values,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(16, 5000).map(lambda digits: Raw("9" * digits)),
    st.sampled_from(
        [Raw(text) for text in ("NaN", "-Infinity", "1e400", "-0.0", "1E+2", "12.5")]
        + [Raw(text) for text in ('"\\ud800"', '"x\\udc00"', '"\\ud83d\\ude00"', '"\\u0000"')]
    ),
    st.integers(1, 130).map(lambda depth: Raw("[" * depth + "]" * depth)),
    st.just(Raw("[" * 3000 + "]" * 3000)),
    st.sampled_from(AWKWARD_TEXTS + AWKWARD_STRINGS),
    st.integers(16, 3000).map(lambda digits: "9" * digits),
)


def mutate_node(data: st.DataObject, node: Any) -> Any:
    """One change somewhere in the tree: a member dropped, repeated or renamed, or a value replaced."""
    items = node.pairs if isinstance(node, Obj) else node if isinstance(node, list) else []
    if not items:
        return data.draw(hostile_values)
    index = data.draw(st.integers(0, len(items) - 1))
    name, child = items[index] if isinstance(node, Obj) else (None, items[index])
    before, after = items[:index], items[index + 1 :]
    action = data.draw(st.sampled_from(["descend", "drop", "repeat", "rename", "replace"]))
    if action == "descend" and isinstance(child, Obj | list):
        changed = [(name, mutate_node(data, child))] if isinstance(node, Obj) else [mutate_node(data, child)]
    elif action == "drop":
        changed = []
    elif action == "repeat":  # in an object, a repeated name: first or last, the same value or another
        again = data.draw(st.just(child) | hostile_values)
        pair = [(name, again)] if isinstance(node, Obj) else [again]
        changed = [items[index], *pair] if data.draw(st.booleans()) else [*pair, items[index]]
    elif action == "rename" and isinstance(node, Obj):
        other = data.draw(st.sampled_from([key for key, _ in items]) | st.text(max_size=8))
        changed = [(other, child)]
    else:
        value = data.draw(hostile_values)
        changed = [(name, value)] if isinstance(node, Obj) else [value]
    return Obj([*before, *changed, *after]) if isinstance(node, Obj) else [*before, *changed, *after]


def mutated(data: st.DataObject, platform: str, endpoint: str, body: str) -> tuple[str, str]:
    """A document changed once: in its tree, in its text, or sent as another endpoint."""
    kind = data.draw(
        st.sampled_from(["tree", "tree", "tree", "truncate", "trailing comma", "bom", "endpoint"])
    )
    if kind == "tree":
        try:
            tree = as_tree(json.loads(body))
        except (ValueError, RecursionError):  # changed before into what no tree holds
            kind = "truncate"
        else:
            return endpoint, written(mutate_node(data, tree))
    if kind == "truncate":
        return endpoint, body[: data.draw(st.integers(0, max(len(body) - 1, 0)))]
    if kind == "trailing comma":
        return endpoint, body[:-1] + ",}"
    if kind == "bom":
        return endpoint, "\ufeff" + body
    return data.draw(st.sampled_from(ENDPOINTS[platform])), body


def _base_documents() -> dict[str, list[tuple[str, str, int, str]]]:
    """(account, endpoint, page, body) of the hand-laid account and of a simulated one, per platform."""
    base: dict[str, list[tuple[str, str, int, str]]] = {}
    for platform in PLATFORMS:
        files = sorted((HAND_LAID / platform / "2024-09").glob("*/*.json"))
        documents = []
        for path in files:
            endpoint, _, page = path.stem.partition("-")
            documents.append((path.parent.name, endpoint, int(page or 1), path.read_text(encoding="utf-8")))
        simulated = SimulatedSource().pull(SEPTEMBER, platform, [FUZZ_ACCOUNTS[platform]])
        documents += [(d.account_handle, d.endpoint, d.page, d.body) for d in simulated]
        base[platform] = documents
    return base


HAND_LAID = Path(__file__).parents[1] / "data" / "hand-laid"
SEPTEMBER = Month(2024, 9)
FUZZ_ACCOUNTS = {platform: make_account(platform, "xian", 3) for platform in PLATFORMS}
REGISTRY_ACCOUNTS = pl.concat(
    [
        load_registry().accounts.filter(
            pl.col("account_handle").is_in(["VisitNanjing", "nanjingtravel", "NanjingRelease", "NanjingTV"])
        ),
        pl.DataFrame([vars(account) for account in FUZZ_ACCOUNTS.values()]),
    ],
    how="diagonal_relaxed",
).select("platform", "city_id", "account_handle", "platform_account_id")
BASE_DOCUMENTS = _base_documents()


class Delivered:
    """A source that yields the documents it was given, account by account."""

    name = "fuzz"

    def __init__(self, documents: list[RawDocument]) -> None:
        self.documents = documents

    def pull(self, month: Month, platform: str, accounts: Any) -> Any:
        yield from sorted(self.documents, key=lambda d: d.account_handle)


@pytest.fixture(scope="module")
def fuzz_warehouse(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("fuzz") / "warehouse.duckdb")
    warehouse.ensure_schema()
    return warehouse


@settings(max_examples=50, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_documents_go_from_raw_to_clean_read_or_refused_with_a_reason(fuzz_warehouse, data):
    platform = data.draw(st.sampled_from(PLATFORMS))
    documents = list(BASE_DOCUMENTS[platform])
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(documents) - 1))
        handle, endpoint, page, body = documents[index]
        endpoint, body = mutated(data, platform, endpoint, body)
        documents[index] = (handle, endpoint, page, body)
    delivered = [
        RawDocument(
            month=SEPTEMBER,
            platform=platform,
            account_handle=handle,
            endpoint=endpoint,
            page=page + 100 * number,  # a page of its own, whatever endpoint it was sent as
            body=body,
            request_url=f"fuzz://{platform}/{handle}/{endpoint}-{number}",
            fetched_at=datetime(2024, 10, 3, tzinfo=UTC),
            source="fuzz",
        )
        for number, (handle, endpoint, page, body) in enumerate(documents)
    ]
    accounts = REGISTRY_ACCOUNTS.filter(platform=platform)
    with fuzz_warehouse.session():  # one connection for the example: opening the file costs more
        pull_month(Delivered(delivered), fuzz_warehouse, SEPTEMBER, platform, [], run_id="fuzz")
        stored = fuzz_warehouse.raw_documents(SEPTEMBER, platform)
        assert sorted(stored["body"]) == sorted(d.body for d in delivered), "every body is kept verbatim"

        cleaned = clean_platform(stored, accounts, SEPTEMBER, platform, load_methodology())
        profiles = profiles_of(stored, platform)
        previous = pl.DataFrame(
            schema={"platform": pl.String, "account_handle": pl.String, "followers": pl.Int64}
        )
        tables = {
            "clean.posts": cleaned.posts,
            "clean.quarantine": cleaned.quarantine,
            "clean.account_metrics": account_metrics(cleaned.posts, profiles, accounts, previous),
        }
        fuzz_warehouse.replace_month(SEPTEMBER, "fuzz", tables, platform=platform)
        for table, frame in tables.items():
            assert (
                fuzz_warehouse.read_month(table, SEPTEMBER).filter(platform=platform).height == frame.height
            )

    quarantine = cleaned.quarantine
    for doc in stored.iter_rows(named=True):
        here = quarantine.filter(pl.col("location") == doc["request_url"])
        try:
            parsed = parse_document(platform, doc["endpoint"], doc["body"])
        except DocumentError as refusal:
            assert here.filter(pl.col("record_id").is_null())["reason"].to_list() == [
                f"unusable document: {refusal}"
            ]
            continue
        assert sorted(r.reason for r in parsed.rejected) == sorted(
            here["reason"]
            .filter(
                ~here["reason"].str.starts_with("duplicate post id")
                & ~here["reason"].str.starts_with("published outside")
            )
            .to_list()
        )
    assert_same_reading(
        platform, stored.sort("account_handle", "endpoint", "page").with_row_index("doc_index")
    )
