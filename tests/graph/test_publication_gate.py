"""The publication gate through the graph: a month corrupted between steps fails the check that guards
against it, with the check's severity, and is not published; an implausible vendor drop is refused
until its jumps are known; a clean month publishes v1; a re-run with new numbers publishes v2 beside
an untouched v1; an override is recorded.

One month is materialised once (everything but the publication) into a base warehouse; each test
copies it, corrupts one table the way the check guards against, and runs the rest of the month.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil

import dagster as dg
import duckdb
import polars as pl
import pytest
from support.landing_helpers import write_landing
from support.runs import make_settings

from assets import all_assets
from checks import all_checks
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.settings import Settings
from cityindex_pipeline.defs.resources import PlausibilityFiles, PublicationResource, resources_for
from cityindex_pipeline.method.panel import CRITERIA
from cityindex_pipeline.publication.integrity import verify_export
from cityindex_pipeline.quality.gates import GATES
from cityindex_pipeline.reference.registry import load_registry
from cityindex_pipeline.sources.simulated import SimulatedSource
from cityindex_pipeline.warehouse.store import Warehouse

AUGUST, SEPTEMBER = Month(2024, 8), Month(2024, 9)
S = "month = DATE '2024-09-01'"
ERROR_BODY = json.dumps({"error": {"message": "(#4) Application request limit reached", "code": 4}})


def run(
    settings: Settings,
    month: Month,
    selection: dg.AssetSelection | None = None,
    *,
    run_config: dict | None = None,
    as_of: str = "",
    instance: dg.DagsterInstance | None = None,
    plausibility: PlausibilityFiles | None = None,
) -> dg.ExecuteInProcessResult:
    resources = resources_for(settings)
    if plausibility is not None:
        resources["plausibility"] = plausibility
    if as_of:
        resources["publication"] = PublicationResource(
            exports_dir=str(settings.exports_dir), settling_days=settings.settling_days, as_of=as_of
        )
    return dg.materialize(
        [*all_assets, *all_checks],
        partition_key=month.partition_key,
        resources=resources,
        selection=selection,
        run_config=run_config,
        raise_on_error=False,
        instance=instance,
    )


def after(asset: str) -> dg.AssetSelection:
    """Everything downstream of `asset` (not the asset itself), and every check of the month."""
    chosen = dg.AssetSelection.assets(asset)
    return (chosen.downstream() - chosen) | dg.AssetSelection.all_asset_checks()


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Settings:
    """August published; September materialised up to its publication, every check passing."""
    settings = make_settings(tmp_path_factory.mktemp("gates-base"), first_month=AUGUST)
    for month in (AUGUST, SEPTEMBER):
        selection = (
            None
            if month == AUGUST
            else dg.AssetSelection.all() - dg.AssetSelection.assets("published_index").downstream()
        )
        result = run(settings, month, selection)
        assert result.success, [e.step_key for e in result.get_step_failure_events()]
        failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
        assert failed == [], f"the simulated {month} passes every check"
    assert Warehouse(settings.warehouse_path).publications(SEPTEMBER).height == 0
    return settings


@pytest.fixture
def home(base: Settings, tmp_path) -> Settings:
    """A copy of the base warehouse to corrupt."""
    shutil.copy(base.warehouse_path, tmp_path / "warehouse.duckdb")
    return dataclasses.replace(base, home=tmp_path)


def corrupt(settings: Settings, *statements: str, params: list | None = None) -> None:
    with duckdb.connect(str(settings.warehouse_path)) as con:
        for statement in statements:
            con.execute(statement, params) if params and "?" in statement else con.execute(statement)


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def published(result: dg.ExecuteInProcessResult) -> bool:
    return any(
        e.asset_key.to_user_string() == "published_index" for e in result.get_asset_materialization_events()
    )


def one_row(table: str, where: str = "true") -> str:
    return f"rowid = (SELECT min(rowid) FROM {table} WHERE {S} AND {where})"


CORRUPTIONS = {
    # check: (asset it is attached to, statements that corrupt the month the way the check guards against)
    "account_registry:registry_consistent": (
        "account_registry",
        [f"UPDATE clean.registry_accounts SET city_id = 'atlantis' WHERE {one_row('clean.registry_accounts')}"],
    ),
    "platform_reference:reference_complete": (
        "platform_reference",
        [f"UPDATE idx.platform_reference SET relevance = 0 WHERE {one_row('idx.platform_reference')}"],
    ),
    "qualitative_scores:panel_well_formed": (
        "qualitative_scores",
        [f"UPDATE idx.qualitative_scores SET source = 'guess' WHERE {one_row('idx.qualitative_scores')}"],
    ),
    "platform_indicators:indicators_well_formed": (
        "platform_indicators",
        [f"UPDATE idx.platform_indicators SET normalised = 140 "
         f"WHERE {one_row('idx.platform_indicators', 'normalised IS NOT NULL')}"],
    ),
    "index_uncertainty:rank_intervals_well_formed": (
        "index_uncertainty",
        [f"UPDATE idx.index_uncertainty SET rank_p05 = rank_p95 + 1 WHERE {one_row('idx.index_uncertainty')}"],
    ),
    "raw_x:accounts_covered": (
        "raw_x",
        [f"DELETE FROM raw.documents WHERE {S} AND platform = 'x' AND account_handle = "
         f"(SELECT min(account_handle) FROM raw.documents WHERE {S} AND platform = 'x')"],
    ),
    "raw_x:no_error_bodies_as_data": (
        "raw_x",
        [f"UPDATE raw.documents SET body = '{ERROR_BODY}', sha256 = '{hashlib.sha256(ERROR_BODY.encode()).hexdigest()}' "
         "WHERE " + one_row("raw.documents", "platform = 'x' AND endpoint = 'tweets'")],
    ),
    "raw_facebook:drop_complete": (
        "raw_facebook",
        [f"DELETE FROM raw.documents WHERE {S} AND platform = 'facebook' AND endpoint = 'posts' AND page = 2 "
         "AND account_handle = (SELECT min(account_handle) FROM raw.documents "
         f"WHERE {S} AND platform = 'facebook' AND endpoint = 'posts' AND page = 3)"],
    ),
    "clean_posts:posts_unique": (
        "clean_posts", [f"INSERT INTO clean.posts SELECT * FROM clean.posts WHERE {one_row('clean.posts')}"]
    ),
    "clean_posts:post_keys_not_null": (
        "clean_posts",
        ["ALTER TABLE clean.posts ALTER COLUMN city_id DROP NOT NULL",
         f"UPDATE clean.posts SET city_id = NULL WHERE {one_row('clean.posts')}"],
    ),
    "clean_posts:counts_not_negative": (
        "clean_posts", [f"UPDATE clean.posts SET likes = -5 WHERE {one_row('clean.posts', 'likes IS NOT NULL')}"]
    ),
    "clean_posts:published_in_month": (
        "clean_posts",
        [f"UPDATE clean.posts SET published_at_utc = TIMESTAMPTZ '2024-10-03 00:00:00+00' WHERE {one_row('clean.posts')}"],
    ),
    "clean_posts:content_type_known": (
        "clean_posts", [f"UPDATE clean.posts SET content_type = 'reel' WHERE {one_row('clean.posts')}"]
    ),
    "clean_account_metrics:metrics_well_formed": (
        "clean_account_metrics",
        [f"INSERT INTO clean.account_metrics SELECT * FROM clean.account_metrics WHERE {one_row('clean.account_metrics')}"],
    ),
    "clean_account_metrics:followers_present": (
        "clean_account_metrics",
        ["UPDATE clean.account_metrics SET followers = NULL WHERE "
         + one_row("clean.account_metrics", "platform = 'facebook'")],
    ),
    "clean_account_metrics:follower_change_within_bounds": (
        "clean_account_metrics",
        [f"UPDATE clean.account_metrics SET followers = followers_previous // 10 "
         f"WHERE {one_row('clean.account_metrics', 'followers_previous > 1000')}"],
    ),
    "clean_account_metrics:interactions_consistent": (
        "clean_account_metrics",
        [f"UPDATE clean.account_metrics SET interactions_per_post = interactions_per_post + 1 "
         f"WHERE {one_row('clean.account_metrics', 'posts > 0')}"],
    ),
    "platform_weights:weights_sum_to_one": (
        "platform_weights", [f"UPDATE idx.platform_weights SET weight = weight * 1.2 WHERE {S} AND platform = 'x'"]
    ),
    "platform_weights:platform_weights_valid": (
        "platform_weights", [f"DELETE FROM idx.platform_weights WHERE {S} AND platform = 'youtube'"]
    ),
    "platform_index_x:platform_ranks_follow_scores": (
        "platform_index_x", [f"UPDATE idx.platform_index SET rank = 2 WHERE {S} AND platform = 'x' AND rank = 1"]
    ),
    "comprehensive_index:qualitative_scores_complete": (
        "qualitative_scores", [f"DELETE FROM idx.qualitative_scores WHERE {S} AND city_id = 'nanjing'"]
    ),
    "comprehensive_index:one_row_per_city": (
        "comprehensive_index", [f"DELETE FROM idx.comprehensive_index WHERE {S} AND city_id = 'nanjing'"]
    ),
    "comprehensive_index:scores_between_0_and_100": (
        "comprehensive_index", [f"UPDATE idx.comprehensive_index SET score = 120 WHERE {S} AND rank = 1"]
    ),
    "comprehensive_index:ranks_follow_scores": (
        "comprehensive_index", [f"UPDATE idx.comprehensive_index SET rank = 2 WHERE {S} AND rank = 1"]
    ),
    "comprehensive_index:index_well_formed": (
        "comprehensive_index",
        [f"UPDATE idx.comprehensive_index SET platforms_present = 7 WHERE {S} AND city_id = 'nanjing'"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("check", sorted(CORRUPTIONS))
def test_a_corrupted_month_fails_its_check_as_an_error_and_is_not_published(home, check):
    asset, statements = CORRUPTIONS[check]
    corrupt(home, *statements)
    result = run(home, SEPTEMBER, after(asset))
    evaluation = evaluations(result)[check]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["failed_rows"].value >= 1
    assert evaluation.metadata["sample"].value, "a sample of what failed is shown"
    assert evaluation.metadata["fix"].value, "and what to do about it"
    assert not published(result)
    assert Warehouse(home.warehouse_path).publications(SEPTEMBER).height == 0
    assert not (home.exports_dir / "2024-09").exists()


def implausible_drop(settings: Settings) -> tuple[str, str]:
    """September's Instagram as a vendor delivers it, with two implausible counts: the largest account
    at ten times its followers, and one post of another account at 10^12 likes. Returns their handles."""
    accounts = load_registry().accounts_for("instagram")
    largest = Warehouse(settings.warehouse_path).query(
        "SELECT account_handle FROM clean.account_metrics WHERE month = DATE '2024-08-01' "
        "AND platform = 'instagram' ORDER BY followers DESC LIMIT 1"
    )["account_handle"][0]
    liked, documents = None, []
    for doc in SimulatedSource().pull(SEPTEMBER, "instagram", accounts):
        body = json.loads(doc.body)
        if doc.account_handle == largest and doc.endpoint == "user":
            body["followers_count"] *= 10
        elif liked is None and doc.account_handle != largest and doc.endpoint == "media" and body.get("data"):
            body["data"][0]["like_count"], liked = 10**12, doc.account_handle
        documents.append(dataclasses.replace(doc, body=json.dumps(body)))
    write_landing(settings.landing_dir, documents)
    assert liked is not None
    return largest, liked


def known_jumps(path, *rows: str) -> PlausibilityFiles:
    path.write_text("platform,account_handle,month,measure,reason\n" + "".join(rows), encoding="utf-8")
    return PlausibilityFiles(known_jumps=str(path))


def test_an_implausible_drop_is_refused_until_its_real_jumps_are_known_with_their_reasons(home, tmp_path):
    """The likes stop the month at clean_posts; flagged, they pass with their reason, and the followers
    stop it at clean_account_metrics; flagged too, every check passes, each flag shown with its reason."""
    files = dataclasses.replace(home, source="files")
    grown, liked = implausible_drop(files)
    # the checks of the raw and clean layers; the later layers' would judge tables this drop never reaches
    raw_checks = dg.AssetSelection.checks_for_assets(*(f"raw_{platform}" for platform in PLATFORMS))
    clean_checks = dg.AssetSelection.checks_for_assets("clean_posts", "clean_account_metrics")
    report = dg.AssetSelection.assets("monthly_report")
    pulled = (dg.AssetSelection.assets("raw_instagram").downstream() - report).without_checks()
    refused = run(files, SEPTEMBER, pulled | raw_checks | clean_checks)
    likes = evaluations(refused)["clean_posts:counts_below_maxima"]
    assert not likes.passed and likes.severity == dg.AssetCheckSeverity.ERROR
    assert (liked, "likes", 10**12) in {
        (r["account_handle"], r["measure"], r["value"]) for r in likes.metadata["sample"].value
    }
    assert "plausibility.csv" in likes.metadata["fix"].value
    assert not published(refused)

    seen = f"instagram,{liked},2024-09,interactions,post seen on the platform with its likes\n"
    metrics_on = (dg.AssetSelection.assets("clean_account_metrics").downstream() - report).without_checks()
    half = run(
        files, SEPTEMBER, metrics_on | clean_checks, plausibility=known_jumps(tmp_path / "a.csv", seen)
    )
    checks = evaluations(half)
    assert checks["clean_posts:counts_below_maxima"].passed
    assert {
        r["reason"] for r in checks["clean_posts:counts_below_maxima"].metadata["flagged_jumps"].value
    } == {"post seen on the platform with its likes"}
    changes = checks["clean_account_metrics:changes_plausible"]
    assert not changes.passed and changes.severity == dg.AssetCheckSeverity.ERROR
    (row,) = changes.metadata["sample"].value
    assert (row["account_handle"], row["measure"], row["direction"]) == (grown, "followers", "rise")
    assert row["ratio"] == pytest.approx(10, rel=0.05) and row["bound"] == 3
    assert checks["clean_account_metrics:follower_change_within_bounds"].passed
    assert not published(half)
    assert Warehouse(home.warehouse_path).publications(SEPTEMBER).height == 0

    merged = f'instagram,{grown},2024-09,followers,"merged with the provincial tourism account, confirmed"\n'
    flagged = run(
        files,
        SEPTEMBER,
        dg.AssetSelection.checks_for_assets("clean_account_metrics")
        | dg.AssetSelection.assets("platform_weights").without_checks(),
        plausibility=known_jumps(tmp_path / "b.csv", seen, merged),
    )
    checks = evaluations(flagged)
    assert all(e.passed for e in checks.values()), [k for k, e in checks.items() if not e.passed]
    shown = checks["clean_account_metrics:changes_plausible"].metadata["flagged_jumps"].value
    assert {(r["account_handle"], r["measure"], r["reason"]) for r in shown} == {
        (grown, "followers", "merged with the provincial tourism account, confirmed"),
        (liked, "interactions", "post seen on the platform with its likes"),
    }


def test_a_warning_is_shown_and_recorded_but_the_month_is_published(home):
    """A month whole by its structure but with far fewer documents than the month before (here, one
    account's August delivery stored ten times over) warns; it does not block. (A truncated pull is a
    gap: `drop_complete` blocks it.)"""
    tenfold = (
        "INSERT INTO raw.documents SELECT d.* REPLACE (d.page + 1000 * t.k AS page) "
        "FROM raw.documents d, range(1, 10) t(k) WHERE d.month = DATE '2024-08-01' AND d.platform = 'instagram' "
        "AND d.account_handle = (SELECT min(account_handle) FROM raw.documents "
        "WHERE month = DATE '2024-08-01' AND platform = 'instagram')"
    )
    corrupt(home, tenfold)
    result = run(home, SEPTEMBER, after("raw_instagram"))
    evaluation = evaluations(result)["raw_instagram:document_counts_plausible"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    (outside,) = evaluation.metadata["sample"].value
    assert outside["previous_documents"] >= 8 * outside["documents"]
    assert evaluations(result)["raw_instagram:drop_complete"].passed
    assert published(result), [e.step_key for e in result.get_step_failure_events()]
    record = Warehouse(home.warehouse_path).publications(SEPTEMBER).row(0, named=True)
    assert json.loads(record["warnings"]) == ["raw_instagram:document_counts_plausible"]


def test_a_month_that_has_not_settled_is_not_published(home):
    result = run(home, SEPTEMBER, after("comprehensive_index"), as_of="2024-10-03T12:00:00+00:00")
    evaluation = evaluations(result)["comprehensive_index:month_has_settled"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "2024-10-05T16:00:00+00:00" in evaluation.metadata["fix"].value
    assert not published(result)
    assert Warehouse(home.warehouse_path).publications(SEPTEMBER).height == 0


def test_a_clean_month_publishes_v1_and_a_rerun_with_new_numbers_v2_leaving_v1_untouched(home):
    warehouse = Warehouse(home.warehouse_path)
    first = run(home, SEPTEMBER, after("comprehensive_index"))
    assert first.success and published(first)
    assert all(e.passed for e in first.get_asset_check_evaluations())
    v1 = warehouse.query("SELECT * FROM publish.index WHERE version = 1 ORDER BY city_id")
    v1_record = warehouse.publications(SEPTEMBER).row(0, named=True)
    v1_dir = home.exports_dir / "2024-09" / "v1"
    v1_files = {p.name: p.read_bytes() for p in v1_dir.iterdir()}
    assert v1_record["reason"] == "first publication" and v1_record["raw_documents"] > 0
    assert " commit " in v1_record["code_version"] and len(v1_record["inputs_sha256"]) == 64

    # A real panel arrives: the numbers change, and the run says why it publishes again.
    cities = warehouse.read_month("clean.registry_cities", SEPTEMBER)["city_id"].to_list()
    panel = home.landing_dir / "qualitative" / "2024-09.csv"
    panel.parent.mkdir(parents=True)
    pl.DataFrame(
        [
            (city, rater, criterion, 70.0)
            for city in cities
            for rater in ("rater-1", "rater-2", "rater-3")  # the methodology's minimum of raters
            for criterion in CRITERIA
        ],
        schema=["city_id", "rater", "criterion", "score"],
        orient="row",
    ).write_csv(panel)
    reason = {"resources": {"publish_options": {"config": {"reason": "expert panel file received"}}}}
    index_layer = dg.AssetSelection.groups("index", "publish") | dg.AssetSelection.all_asset_checks()
    second = run(home, SEPTEMBER, index_layer, run_config=reason)
    assert second.success and published(second), [e.step_key for e in second.get_step_failure_events()]
    records = warehouse.publications(SEPTEMBER)
    assert records["version"].to_list() == [1, 2]
    assert records["reason"].to_list() == ["first publication", "expert panel file received"]
    assert records["inputs_sha256"][0] != records["inputs_sha256"][1], "the panel is part of the inputs"
    assert warehouse.query("SELECT * FROM publish.index WHERE version = 1 ORDER BY city_id").equals(v1)
    assert warehouse.publications(SEPTEMBER).row(0, named=True) == v1_record
    assert {p.name: p.read_bytes() for p in v1_dir.iterdir()} == v1_files
    assert verify_export(home.exports_dir / "2024-09" / "v2") == []

    # The same numbers again: nothing new is published.
    third = run(home, SEPTEMBER, after("comprehensive_index"))
    assert third.success and warehouse.publications(SEPTEMBER)["version"].to_list() == [1, 2]


def test_an_override_publishes_over_errors_and_is_recorded(home):
    corrupt(home, *CORRUPTIONS["comprehensive_index:one_row_per_city"][1])
    override = {
        "resources": {
            "publish_options": {"config": {"override_errors": "Nanjing withdrawn; editor approved"}}
        }
    }
    result = run(home, SEPTEMBER, after("comprehensive_index"), run_config=override)
    evaluation = evaluations(result)["comprehensive_index:one_row_per_city"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["overridden"].value is True
    assert evaluation.metadata["declared_severity"].value == "ERROR"
    assert published(result)
    record = Warehouse(home.warehouse_path).publications(SEPTEMBER).row(0, named=True)
    assert record["override_reason"] == "Nanjing withdrawn; editor approved"
    assert "comprehensive_index:one_row_per_city" in record["overridden_checks"]
    exported = json.loads(
        (home.exports_dir / "2024-09" / "v1" / "publication.json").read_text(encoding="utf-8")
    )
    assert exported["override_reason"] == "Nanjing withdrawn; editor approved"


def test_publishing_without_any_check_result_is_refused(home):
    result = run(home, SEPTEMBER, dg.AssetSelection.assets("published_index"))
    assert not published(result)
    (failure,) = result.get_step_failure_events()
    assert "have no result on the month's current data" in failure.event_specific_data.error.message
    assert Warehouse(home.warehouse_path).publications(SEPTEMBER).height == 0


PUBLICATION = dg.AssetSelection.assets("published_index")


def test_a_publication_run_of_its_own_takes_the_checks_of_earlier_runs_unless_stale(home):
    """As an asset backfill runs it: the checks in earlier runs of the same instance, then the
    publication alone. A check whose asset was materialised again since it ran no longer counts."""
    instance = dg.DagsterInstance.ephemeral()
    every_gate = dg.AssetSelection.checks_for_assets(*{gate.asset for gate in GATES})
    # (a run needs one asset for its partitions: platform_weights, cheap, is materialised with them)
    checks = run(
        home, SEPTEMBER, every_gate | dg.AssetSelection.assets("platform_weights"), instance=instance
    )
    assert checks.success and all(e.passed for e in checks.get_asset_check_evaluations())

    alone = run(home, SEPTEMBER, PUBLICATION, instance=instance)
    assert published(alone), [e.event_specific_data.error.message for e in alone.get_step_failure_events()]

    again = run(home, SEPTEMBER, dg.AssetSelection.assets("clean_posts").without_checks(), instance=instance)
    assert again.success and not again.get_asset_check_evaluations()
    refused = run(home, SEPTEMBER, PUBLICATION, instance=instance)
    assert not published(refused)
    (failure,) = refused.get_step_failure_events()
    message = failure.event_specific_data.error.message
    assert "clean_posts:posts_unique" in message and "clean_posts:counts_not_negative" in message
    assert "raw_x:accounts_covered" not in message, "checks of unchanged assets still count"
    assert Warehouse(home.warehouse_path).publications(SEPTEMBER).height == 1
