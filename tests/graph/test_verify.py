"""`verify`: a publication recomputed from the inputs it recorded gives the published numbers, also
after later months, a newer methodology and forged verdicts; an altered raw document is found."""

from __future__ import annotations

import shutil

import dagster as dg
import polars as pl
import pytest
from support.runs import in_memory_instance, make_settings, materialize

from cityindex_pipeline.audit.verify import VerifyError
from cityindex_pipeline.cli.recompute import recompute
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.method.config import VERSION_VARIABLE, load_methodology
from cityindex_pipeline.method.panel import panel_path, simulate_panel
from cityindex_pipeline.parsing.document import READING_RULES
from cityindex_pipeline.warehouse.store import Warehouse

AUGUST, SEPTEMBER, OCTOBER = Month(2024, 8), Month(2024, 9), Month(2024, 10)
OLDER_METHODOLOGY = "0.3.0"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """August and September published with methodology 0.3.0; then October with the current one.
    Then September's stored verdicts are forged: a recompute judges every body again and trusts none."""
    settings = make_settings(tmp_path_factory.mktemp("verify"), first_month=AUGUST)
    with pytest.MonkeyPatch.context() as patch, in_memory_instance() as instance:
        patch.setenv(VERSION_VARIABLE, OLDER_METHODOLOGY)
        for month in (AUGUST, SEPTEMBER):
            assert materialize(settings, month, instance=instance).success
        patch.delenv(VERSION_VARIABLE)
        assert materialize(settings, OCTOBER, instance=instance).success
    with Warehouse(settings.warehouse_path).transaction() as connection:  # bodies untouched, verdicts forged
        connection.execute(
            "UPDATE raw.documents SET unusable_reason = 'forged', reading_rules = ? WHERE month = ?",
            [READING_RULES, SEPTEMBER.first_day],
        )
    return settings.home


def test_a_publication_recomputes_to_the_same_numbers_after_later_months_a_newer_method_forged_verdicts(
    home, tmp_path
):
    assert load_methodology().version != OLDER_METHODOLOGY, "the current methodology has moved on"
    warehouse = Warehouse(home / "warehouse.duckdb")
    assert warehouse.read_month("publish.index", OCTOBER).height == 133, "a later month exists"

    verified = recompute(warehouse, SEPTEMBER, None)

    assert verified.matches, (verified.differences, verified.tampered_documents, verified.notes)
    assert verified.methodology_version == OLDER_METHODOLOGY and verified.version == 1
    assert verified.documents == warehouse.read_month("raw.documents", SEPTEMBER).height
    assert verified.recomputed_sha256 == verified.published_sha256


def test_an_altered_raw_document_is_found_and_the_numbers_differ(home, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    warehouse = Warehouse(copy / "warehouse.duckdb")
    target = (
        warehouse.read_month("raw.documents", SEPTEMBER)
        .filter(pl.col("platform") == "x", pl.col("endpoint") == "tweets")
        .sort("account_handle")
        .row(0, named=True)
    )
    with warehouse.transaction() as connection:  # what an intruder or a broken disk would do
        connection.execute(
            "UPDATE raw.documents SET body = regexp_replace(body, '\"like_count\":\\s*\\d+', '\"like_count\":999999') "
            "WHERE pull_id = ? AND sha256 = ?",
            [target["pull_id"], target["sha256"]],
        )

    verified = recompute(warehouse, SEPTEMBER, None)

    assert not verified.matches
    (tampered,) = verified.tampered_documents
    assert (tampered["account_handle"], tampered["endpoint"], tampered["sha256"]) == (
        target["account_handle"],
        "tweets",
        target["sha256"],
    )
    assert tampered["sha256_of_text"] != target["sha256"]
    assert verified.differences, "the altered counts change the recomputed numbers"
    assert {"city_id", "column", "published", "recomputed"} <= set(verified.differences[0])


def test_a_publication_that_does_not_exist_is_a_clear_error(home, tmp_path):
    with pytest.raises(VerifyError, match="no publication v5; published: v1"):
        recompute(Warehouse(home / "warehouse.duckdb"), SEPTEMBER, 5)


def test_re_running_the_previous_month_never_breaks_a_publication_and_a_mixed_month_is_refused(
    home, tmp_path
):
    """October v1 read September v1. September is re-run later with new numbers (v2): October v1
    still verifies, from the September rows it pinned; October's stored changes are now against a
    September that no longer is, so publishing October again is refused until October is re-run."""
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    settings = make_settings(copy, first_month=AUGUST)
    warehouse = Warehouse(settings.warehouse_path)
    (october_v1,) = warehouse.publications(OCTOBER).to_dicts()
    assert october_v1["previous_version"] == 1 and october_v1["previous_inputs_sha256"]

    cities = warehouse.read_month("clean.registry_cities", SEPTEMBER)["city_id"].to_list()
    panel = panel_path(settings.landing_dir, SEPTEMBER)  # the expert panel re-scores September
    panel.parent.mkdir(parents=True)
    simulate_panel(cities, SEPTEMBER, seed=7).select("city_id", "rater", "criterion", "score").write_csv(
        panel
    )
    with in_memory_instance() as instance:
        assert materialize(settings, SEPTEMBER, instance=instance).success
        september = warehouse.publications(SEPTEMBER)
        assert september["content_sha256"].n_unique() == 2, "September's numbers changed: v2"

        verified = recompute(warehouse, OCTOBER, 1)
        assert verified.matches, (verified.differences, verified.notes)
        assert any("2024-09 as this publication pinned it (its v1)" in note for note in verified.notes)

        refused = materialize(
            settings, OCTOBER, selection=dg.AssetSelection.assets("published_index"), instance=instance
        )
        assert not refused.success
        (failure,) = refused.get_step_failure_events()
        message = failure.event_specific_data.error.message
        assert "comprehensive_index:built_from_previous_month" in message
        assert "2024-09 changed after 2024-10 read it: re-run 2024-10" in message
        assert warehouse.publications(OCTOBER).height == 1, "nothing published from a mixed month"

        assert materialize(settings, OCTOBER, instance=instance).success
    october = warehouse.publications(OCTOBER)
    assert october["version"].to_list() == [1, 2]
    assert october["previous_version"].to_list() == [1, 2]
    assert october.row(0, named=True) == october_v1, "the earlier version is untouched"


def test_a_publication_made_with_a_methodology_this_version_lacks_is_refused_with_a_sentence(home, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    warehouse = Warehouse(copy / "warehouse.duckdb")
    with warehouse.transaction() as connection:  # a publication of a later release's method
        connection.execute(
            "UPDATE publish.publications SET methodology_version = '9.9.9' WHERE month = ?",
            [SEPTEMBER.first_day],
        )
    with pytest.raises(VerifyError, match=r"made with methodology 9\.9\.9, which cannot be loaded"):
        recompute(warehouse, SEPTEMBER, None)
