"""A corpus of bad documents (`tests/data/bad-input`), laid over a good month: each gives a clear
reason in `raw.source_problems` or `clean.quarantine`, or is read as the platform meant it, and the
rest of the month goes on. A document that cannot be read leaves its records out of the month, so
`drop_complete` refuses the month naming each; published over it with an override, the rest of the
month is the good month's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from support.landing_helpers import lay_out_month
from support.runs import WITHOUT_REPORT, in_memory_instance, make_settings

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.warehouse.store import Warehouse

BAD_INPUT = Path(__file__).parents[1] / "data" / "bad-input"
SEPTEMBER = Month(2024, 9)


@dataclass(frozen=True)
class Problem:
    """A file the source could not use: kept with its content and the reason."""

    case: str
    file: str
    reason: str


@dataclass(frozen=True)
class Quarantined:
    """A record (or a whole document) the cleaning could not use: kept with the reason."""

    case: str
    account: str
    record_id: str | None
    reason: str


SOURCE_PROBLEMS = [
    Problem("truncated JSON", "facebook/2024-09/AnqingCityOfficial/posts.json", "not valid JSON"),
    Problem("an HTML error page", "youtube/2024-09/AnshanChannel/channel.json", "not valid JSON"),
    Problem("an API error body as data", "youtube/2024-09/BeijingChannel/channel.json", "an API error body"),
    Problem("bytes that are not UTF-8", "instagram/2024-09/anyang.china/media.json", "not UTF-8"),
    Problem(
        "a repeated name",
        "facebook/2024-09/ChangshaTourism/posts.json",
        'a repeated name "count" in one object',
    ),
    Problem(
        "a page number beyond any page",
        "facebook/2024-09/ChangshaTourism/posts-99999999999.json",
        "page 99999999999 out of range",
    ),
    Problem(
        "nesting 5,000 deep", "instagram/2024-09/discoverchangsha/media.json", "nested deeper than 64 levels"
    ),
    Problem(
        "an integer of 5,000 digits",
        "instagram/2024-09/discoverchengdu/media.json",
        "a number of more than 4300 digits",
    ),
    Problem("NaN for a count", "x/2024-09/Changsha_Official/tweets.json", "not valid JSON: the literal NaN"),
]
UNREADABLE = {  # the documents whose records are missing from the month, by the raw asset that says so
    "raw_facebook": {("AnqingCityOfficial", "posts"), ("ChangshaTourism", "posts")},
    "raw_instagram": {("anyang.china", "media"), ("discoverchangsha", "media"), ("discoverchengdu", "media")},
    "raw_x": {("BeijingChina", "tweets"), ("Changsha_Official", "tweets")},
    "raw_youtube": {("AnshanChannel", "channel"), ("BeijingChannel", "channel")},
}
OVERRIDE = "the bad-input corpus: each unreadable document is the test's subject"
ANYANG = "100076922966978"
QUARANTINED = [
    Quarantined("a negative count", "AnyangTourism", f"{ANYANG}_1", "is negative: -5"),
    Quarantined("a fraction for a count", "AnyangTourism", f"{ANYANG}_2", "is a fraction, not a count: 12.5"),
    Quarantined("a huge count", "AnyangTourism", f"{ANYANG}_3", "is implausibly large"),
    Quarantined("a word for a count", "AnyangTourism", f"{ANYANG}_4", "is a string, not a count: 'many'"),
    Quarantined(
        "one post on two pages, counts differing",
        "BaotouCityOfficial",
        "100027220702970_1",
        "counts differed",
    ),
    Quarantined(
        "a post of October in Beijing time",
        "BeihaiCityOfficial",
        "100028572088721_1",
        "published outside the month",
    ),
    Quarantined("a document of the wrong endpoint", "BeijingChina", None, "unusable document"),
    Quarantined(
        "a document of an unknown account", "NoSuchCityOfficial", None, "account not in the registry"
    ),
    Quarantined(
        "an object for a message",
        "DiscoverChengdu",
        "100057049985137_8369788709535403",
        "message is not a string: an object",
    ),
    Quarantined(
        "an array for a permalink",
        "DiscoverChengdu",
        "100057049985137_7467172434620872",
        "permalink_url is not a string: an array",
    ),
    Quarantined(
        "an object for a tweet's text", "ChengduRelease", "1840778264647234635", "text is not a string"
    ),
    Quarantined("an object for a hashtag", "ChengduRelease", "1840416447852843464", "tag is not a string"),
    Quarantined("a duration of 10^11 days", "VisitChengdu", "Vi2ueOAs09c", "duration is implausibly long"),
    Quarantined("a duration beyond BIGINT", "VisitChengdu", "Vi2ueOAs09X", "duration is implausibly long"),
    Quarantined(
        "a view count of 5,000 digits",
        "VisitChengdu",
        "Vi2ueOAs09Y",
        "implausibly large: a number of 5000 digits",
    ),
    Quarantined("a repeated name", "ChangshaTourism", None, 'unusable document: a repeated name "count"'),
]


@dataclass(frozen=True)
class MonthRun:
    warehouse: Warehouse
    drop_complete: dict[str, dg.AssetCheckEvaluation]
    """The `drop_complete` result of each raw asset."""


@pytest.fixture(scope="module")
def month_run(tmp_path_factory) -> MonthRun:
    settings = dataclasses.replace(make_settings(tmp_path_factory.mktemp("bad-input")), source="files")
    lay_out_month(settings.landing_dir, SEPTEMBER, overlay=BAD_INPUT)
    from assets import all_assets
    from checks import all_checks
    from cityindex_pipeline.defs.resources import resources_for

    with in_memory_instance() as instance:
        result = dg.materialize(
            [*all_assets, *all_checks],
            partition_key=SEPTEMBER.partition_key,
            resources=resources_for(settings),
            selection=WITHOUT_REPORT,
            instance=instance,
            run_config={"resources": {"publish_options": {"config": {"override_errors": OVERRIDE}}}},
            raise_on_error=False,
        )
    assert result.success, [event.step_key for event in result.get_step_failure_events()]
    drop_complete = {
        e.asset_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "drop_complete"
    }
    return MonthRun(Warehouse(settings.warehouse_path), drop_complete)


@pytest.fixture(scope="module")
def warehouse(month_run: MonthRun) -> Warehouse:
    return month_run.warehouse


def test_an_unreadable_document_is_a_gap_of_the_drop_and_the_month_is_published_only_over_it(month_run):
    warehouse = month_run.warehouse
    for asset, expected in UNREADABLE.items():
        evaluation = month_run.drop_complete[asset]
        assert not evaluation.passed and evaluation.metadata["declared_severity"].value == "ERROR"
        assert evaluation.metadata["overridden"].value is True
        rows = evaluation.metadata["sample"].value
        assert {(row["account_handle"], row["endpoint"]) for row in rows} == expected, rows
        assert all(row["cause"] for row in rows), "each gap says why the pull could not read it"
    (publication,) = warehouse.publications(SEPTEMBER).to_dicts()
    assert publication["override_reason"] == OVERRIDE
    assert sorted(publication["overridden_checks"]) == sorted(f"{a}:drop_complete" for a in UNREADABLE)


@pytest.mark.parametrize("expected", SOURCE_PROBLEMS, ids=lambda case: case.case)
def test_an_unusable_file_is_kept_with_its_reason(warehouse, expected):
    problems = warehouse.read_month("raw.source_problems", SEPTEMBER)
    found = problems.filter(pl.col("location").str.ends_with(expected.file))
    assert found.height == 1, problems.select("location", "reason").to_dicts()
    assert expected.reason in found["reason"][0]
    assert found["content"][0] == (BAD_INPUT / expected.file).read_bytes(), "kept byte for byte"


@pytest.mark.parametrize("expected", QUARANTINED, ids=lambda case: case.case)
def test_an_unusable_record_is_quarantined_with_its_reason(warehouse, expected):
    quarantine = warehouse.read_month("clean.quarantine", SEPTEMBER).filter(
        pl.col("account_handle") == expected.account
    )
    if expected.record_id is None:
        found = quarantine.filter(pl.col("record_id").is_null())
    else:
        found = quarantine.filter(pl.col("record_id") == expected.record_id)
    assert found.height == 1, quarantine.select("record_id", "reason").to_dicts()
    assert expected.reason in found["reason"][0]


def test_a_refused_document_is_refused_for_the_same_reason_in_raw_and_clean(warehouse):
    problems = warehouse.read_month("raw.source_problems", SEPTEMBER)
    quarantine = warehouse.read_month("clean.quarantine", SEPTEMBER).filter(pl.col("record_id").is_null())
    refused = {row["location"]: row["reason"] for row in quarantine.iter_rows(named=True)}
    unusable = problems.filter(pl.col("location").is_in(list(refused)))
    assert unusable.height >= 7, "every document the landing source found unusable is refused in clean"
    for row in unusable.iter_rows(named=True):
        assert refused[row["location"]] == f"unusable document: {row['reason']}"


def test_what_is_read_beside_a_rejected_record_is_kept(warehouse):
    kept = {account: len(posts_of(warehouse, account)) for account in ("DiscoverChengdu", "ChengduRelease")}
    assert kept == {"DiscoverChengdu": 1, "ChengduRelease": 1}
    assert list(posts_of(warehouse, "VisitChengdu")) == ["Vi2ueOAs09Z"]


def test_an_unknown_account_folder_is_reported_and_its_documents_kept(warehouse):
    problems = warehouse.read_month("raw.source_problems", SEPTEMBER)
    (reason,) = problems.filter(pl.col("account_handle") == "NoSuchCityOfficial")["reason"]
    assert reason == "an account folder not in the registry for this month"
    raw = warehouse.read_month("raw.documents", SEPTEMBER).filter(
        pl.col("account_handle") == "NoSuchCityOfficial"
    )
    assert raw["endpoint"].to_list() == ["page"], "stored verbatim all the same: nothing is lost"


def posts_of(warehouse: Warehouse, account: str) -> dict[str, dict]:
    posts = warehouse.read_month("clean.posts", SEPTEMBER).filter(pl.col("account_handle") == account)
    return {row["post_id"]: row for row in posts.iter_rows(named=True)}


def test_the_good_records_beside_the_bad_ones_are_kept(warehouse):
    assert list(posts_of(warehouse, "AnyangTourism")) == [f"{ANYANG}_5"]
    assert posts_of(warehouse, "AnyangTourism")[f"{ANYANG}_5"]["shares"] is None, "not given, not 0"


def test_of_a_post_seen_twice_the_later_page_counts(warehouse):
    (post,) = posts_of(warehouse, "BaotouCityOfficial").values()
    assert post["likes"] == 14


def test_the_last_second_of_september_in_beijing_is_september(warehouse):
    assert list(posts_of(warehouse, "BeihaiCityOfficial")) == ["100028572088721_2"]


def test_an_unknown_field_is_ignored_and_kept_verbatim_in_raw(warehouse):
    (post,) = posts_of(warehouse, "Cangzhou_Official").values()
    assert post["exposures"] == 5120, "the renamed metric post_media_view is an exposure count"
    raw = warehouse.read_month("raw.documents", SEPTEMBER).filter(
        pl.col("account_handle") == "Cangzhou_Official", pl.col("endpoint") == "posts"
    )
    assert raw["body"][0] == (BAD_INPUT / "facebook/2024-09/Cangzhou_Official/posts.json").read_text("utf-8")


def test_an_empty_month_is_zero_posts_not_a_missing_account(warehouse):
    metrics = warehouse.read_month("clean.account_metrics", SEPTEMBER).filter(
        pl.col("account_handle") == "Beijing_Official"
    )
    assert metrics.select("posts", "interactions", "followers").row(0) == (0, 0, 69162)


def test_the_rest_of_the_month_is_published(warehouse):
    published = warehouse.read_month("publish.index", SEPTEMBER)
    assert published.height == 133
    assert published["rank"].min() == 1
