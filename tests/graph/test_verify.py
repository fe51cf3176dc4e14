"""`verify`: a publication recomputed from the inputs it recorded gives the published numbers, also
after later months, a newer methodology and forged verdicts; an altered raw document is found."""

from __future__ import annotations

import shutil

import dagster as dg
import polars as pl
import pytest
from conftest import make_settings, materialize

from cityindex_pipeline.method.config import VERSION_VARIABLE, load_methodology
from cityindex_pipeline.months import Month
from cityindex_pipeline.parsing.document import READING_RULES
from cityindex_pipeline.verify import VerifyError, recompute
from cityindex_pipeline.warehouse import Warehouse

AUGUST, SEPTEMBER, OCTOBER = Month(2024, 8), Month(2024, 9), Month(2024, 10)
OLDER_METHODOLOGY = "0.3.0"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """August and September published with methodology 0.3.0; then October with the current one.
    Then September's stored verdicts are forged: a recompute judges every body again and trusts none."""
    settings = make_settings(tmp_path_factory.mktemp("verify"))
    with pytest.MonkeyPatch.context() as patch, dg.instance_for_test() as instance:
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

    verified = recompute(warehouse, SEPTEMBER, None, tmp_path / "scratch")

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

    verified = recompute(warehouse, SEPTEMBER, None, tmp_path / "scratch")

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
        recompute(Warehouse(home / "warehouse.duckdb"), SEPTEMBER, 5, tmp_path)
