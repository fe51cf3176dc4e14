"""Publication: versions, what each records, and exports that are written once and never rewritten."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil

import polars as pl
import pytest
from support.publication_helpers import SEPTEMBER, provenance, rows

from cityindex_pipeline.publication import files
from cityindex_pipeline.publication import publish as pub
from cityindex_pipeline.publication.files import DICTIONARY, EXPORT_FILES, MANIFEST
from cityindex_pipeline.publication.heal import heal_publications
from cityindex_pipeline.publication.integrity import verify_export, verify_publication
from cityindex_pipeline.publication.records import (
    CONTENT_COLUMNS,
    GateRecord,
    code_version,
    inputs_fingerprint,
)
from cityindex_pipeline.warehouse.store import Warehouse
from cityindex_pipeline.warehouse.tables import DECLARED


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    store = Warehouse(tmp_path / "w.duckdb")
    store.ensure_schema()
    return store


def export_bytes(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_first_publication_records_provenance_and_exports_with_a_manifest(warehouse, tmp_path):
    exports = tmp_path / "exports"
    gate = GateRecord(passed=30, warnings=["raw_x:document_counts_plausible"])
    first = pub.publish_month(
        warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports, gate=gate
    )
    assert first.created and first.version == 1 and first.reason == "first publication"
    record = warehouse.publications(SEPTEMBER).row(0, named=True)
    assert record["code_version"].startswith("cityindex 0.1.0, commit")
    assert record["inputs_sha256"] == "inputs-1" and record["run_id"] == "run-1"
    assert json.loads(record["warnings"]) == ["raw_x:document_counts_plausible"]
    folder = exports / "2024-09" / "v1"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*EXPORT_FILES, MANIFEST])
    manifest = json.loads((folder / MANIFEST).read_text())
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]
    assert record["manifest_sha256"] == hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    assert pl.read_parquet(folder / "index.parquet")["city_id"].to_list() == ["a", "b"]
    assert json.loads((folder / "index.json").read_text())[0]["name_zh"] == "甲"
    assert verify_export(folder) == []
    assert not [p for p in (exports / "2024-09").iterdir() if p.name.startswith(".")], "no staging left"


def test_same_numbers_inputs_and_method_publish_nothing_new(warehouse, tmp_path):
    exports = tmp_path / "exports"
    pub.publish_month(warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports)
    again = pub.publish_month(
        warehouse, SEPTEMBER, "run-2", rows(), provenance=provenance(), exports_dir=exports
    )
    assert not again.created and again.version == 1
    assert warehouse.publications(SEPTEMBER)["version"].to_list() == [1]


def test_new_numbers_publish_v2_with_a_reason_and_leave_v1_byte_identical(warehouse, tmp_path):
    exports = tmp_path / "exports"
    pub.publish_month(warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports)
    v1_rows = warehouse.query("SELECT * FROM publish.index WHERE version = 1 ORDER BY city_id")
    v1_files = export_bytes(exports / "2024-09" / "v1")
    second = pub.publish_month(
        warehouse, SEPTEMBER, "run-2", rows(85.0), provenance=provenance("inputs-2"), exports_dir=exports
    )
    assert second.version == 2 and second.reason == "re-run: numbers changed (inputs)"
    explained = pub.publish_month(
        warehouse, SEPTEMBER, "run-3", rows(86.0), provenance=provenance("inputs-3"), exports_dir=exports,
        reason="corrected Instagram pull",
    )  # fmt: skip
    assert explained.version == 3 and explained.reason == "corrected Instagram pull"
    assert warehouse.query("SELECT * FROM publish.index WHERE version = 1 ORDER BY city_id").equals(v1_rows)
    assert export_bytes(exports / "2024-09" / "v1") == v1_files
    assert warehouse.publications(SEPTEMBER)["reason"].to_list() == [
        "first publication",
        "re-run: numbers changed (inputs)",
        "corrected Instagram pull",
    ]


def test_a_method_change_alone_is_a_new_version_with_that_reason(warehouse, tmp_path):
    exports = tmp_path / "exports"
    pub.publish_month(warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports)
    second = pub.publish_month(
        warehouse, SEPTEMBER, "run-2", rows(), provenance=provenance(methodology="0.3.0"), exports_dir=exports
    )
    assert (
        second.version == 2
        and second.reason == "re-run: methodology 0.2.0 -> 0.3.0 changed, numbers unchanged"
    )


def test_an_override_is_recorded_with_the_checks_it_covered(warehouse, tmp_path):
    gate = GateRecord(passed=31, overridden=["raw_x:accounts_covered"], override_reason="editor approved")
    pub.publish_month(
        warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=tmp_path / "e", gate=gate
    )
    record = warehouse.publications(SEPTEMBER).row(0, named=True)
    assert record["override_reason"] == "editor approved"
    assert record["overridden_checks"] == ["raw_x:accounts_covered"]


def test_a_stray_export_folder_without_its_version_is_moved_aside_never_overwritten(warehouse, tmp_path):
    """A `v1` folder with no committed v1 (what a kill under the old protocol left) no longer blocks the
    month: it is kept, byte for byte, under a name that says what it is."""
    exports = tmp_path / "exports"
    stray = exports / "2024-09" / "v1"
    stray.mkdir(parents=True)
    (stray / "index.csv").write_text("someone else's file", encoding="utf-8")
    first = pub.publish_month(
        warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports
    )
    assert first.version == 1 and first.healed and "moved aside" in first.healed[0]
    (aside,) = (exports / "2024-09").glob("orphaned-v1-*")
    assert (aside / "index.csv").read_text(encoding="utf-8") == "someone else's file"
    assert verify_export(exports / "2024-09" / "v1") == []


def test_a_failed_rename_after_the_commit_is_rolled_forward_by_the_next_publication(
    warehouse, tmp_path, monkeypatch
):
    def refuse(_src, _dst):
        raise OSError("disk full")

    exports = tmp_path / "e"
    with monkeypatch.context() as patched:
        patched.setattr(os, "rename", refuse)
        with pytest.raises(OSError, match="disk full"):
            pub.publish_month(
                warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports
            )
    assert warehouse.publications(SEPTEMBER).height == 1, "the commit came before the rename"
    assert not (exports / "2024-09" / "v1").exists()
    again = pub.publish_month(
        warehouse, SEPTEMBER, "run-2", rows(), provenance=provenance(), exports_dir=exports
    )
    assert not again.created and again.version == 1
    assert again.healed == ["archive, 2024-09 v1: committed, its copy renamed into place",
                            "exports/2024-09/v1: committed, renamed into place"]  # fmt: skip
    record = warehouse.publications(SEPTEMBER).row(0, named=True)
    assert verify_publication(warehouse, exports, SEPTEMBER, record) == []
    assert [p.name for p in (exports / "2024-09").iterdir()] == ["v1"], "no staging left"


def test_publications_are_never_replaced_through_replace_month(warehouse):
    with pytest.raises(ValueError, match="never replaced"):
        warehouse.replace_month(SEPTEMBER, "run-x", {"publish.index": rows()})


def test_code_version_outside_a_git_checkout_names_the_package_and_an_unknown_commit(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert code_version(tmp_path).endswith(", unknown commit")
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert code_version(tmp_path).endswith(", unknown commit")


def test_inputs_fingerprint_follows_document_hashes_and_panel_scores_not_pull_order():
    documents = pl.DataFrame(
        {"platform": ["x", "x"], "account_handle": ["a", "b"], "endpoint": ["user", "user"], "page": [1, 1],
         "sha256": ["h1", "h2"]}
    )  # fmt: skip
    panel = pl.DataFrame(
        {"city_id": ["a"], "rater": ["r"], "criterion": ["c"], "score": [50.0], "source": ["panel"]}
    )
    first, panel_digest = inputs_fingerprint(documents, panel)
    assert inputs_fingerprint(documents.reverse(), panel)[0] == first
    assert inputs_fingerprint(documents.with_columns(pl.Series("sha256", ["h1", "h3"])), panel)[0] != first
    changed_panel = inputs_fingerprint(documents, panel.with_columns(pl.lit(51.0).alias("score")))
    assert changed_panel[0] != first and changed_panel[1] != panel_digest


def test_verify_finds_a_tampered_export_and_tampered_rows(warehouse, tmp_path):
    exports = tmp_path / "exports"
    pub.publish_month(warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports)
    record = warehouse.publications(SEPTEMBER).row(0, named=True)
    assert verify_publication(warehouse, exports, SEPTEMBER, record) == []
    csv = exports / "2024-09" / "v1" / "index.csv"
    csv.chmod(0o644)
    csv.write_text(csv.read_text(encoding="utf-8").replace("80.0", "81.0"), encoding="utf-8")
    assert verify_publication(warehouse, exports, SEPTEMBER, record) == [
        "index.csv: sha256 differs from the manifest"
    ]
    with warehouse.transaction() as con:
        con.execute("UPDATE publish.index SET score = 81.0 WHERE city_id = 'a'")
    assert "publish.index rows differ from the published digest" in verify_publication(
        warehouse, exports, SEPTEMBER, record
    )


def test_the_export_carries_a_dictionary_of_its_columns_from_their_declaration(warehouse, tmp_path):
    exports = tmp_path / "exports"
    pub.publish_month(warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports)
    folder = exports / "2024-09" / "v1"
    dictionary = pl.read_csv(folder / DICTIONARY)
    exported = pl.read_parquet(folder / "index.parquet")
    assert dictionary["column"].to_list() == exported.columns
    declared = {column.name: column for column in DECLARED["publish.index"].columns}
    for row in dictionary.iter_rows(named=True):
        column = declared[row["column"]]
        assert (row["type"], row["nullable"], row["description"]) == (
            column.type.sql,
            "yes" if column.null else "no",
            column.doc,
        )
    assert DICTIONARY in json.loads((folder / MANIFEST).read_text())["files"]
    (folder / DICTIONARY).write_text("column\nedited\n")  # the dictionary is guarded like the other files
    assert verify_export(folder) == [f"{DICTIONARY}: sha256 differs from the manifest"]


def test_the_dictionary_leaves_the_content_digest_as_it_was(warehouse, tmp_path):
    first = pub.publish_month(
        warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=tmp_path / "exports"
    )
    canonical = rows().select(CONTENT_COLUMNS).sort("city_id").write_csv(float_precision=17)
    assert first.content_sha256 == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_a_lost_export_of_a_version_from_before_the_dictionary_is_regenerated_without_one(
    warehouse, tmp_path, monkeypatch
):
    exports = tmp_path / "exports"
    monkeypatch.setattr(pub, "stage_export", functools.partial(files.stage_export, dictionary=False))
    pub.publish_month(warehouse, SEPTEMBER, "run-1", rows(), provenance=provenance(), exports_dir=exports)
    folder = exports / "2024-09" / "v1"
    before = export_bytes(folder)
    assert DICTIONARY not in before
    shutil.rmtree(folder)
    assert heal_publications(warehouse, exports, [SEPTEMBER]) == [
        "exports/2024-09/v1: was missing; exported again, byte for byte as published"
    ]
    assert export_bytes(folder) == before
