"""The checks of what a month releases, run by Dagster on a copy of a published month: they pass on
what the monthly job wrote, and fail on an export changed after publication and on a report missing
a chart."""

from __future__ import annotations

import shutil
from dataclasses import replace

import dagster as dg
import pytest
from support.runs import in_memory_instance, materialize

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.quality import release_rules
from cityindex_pipeline.report.charts import find_cjk_font_directory
from cityindex_pipeline.warehouse.store import Warehouse

SEPTEMBER = Month(2024, 9)


@pytest.fixture
def copied(september_home, tmp_path):
    """The session's published months in a home of their own, to damage."""
    home = tmp_path / "home"
    shutil.copytree(september_home.home, home, ignore=shutil.ignore_patterns("dagster", "locks", "*.wal"))
    return replace(september_home, home=home)


def _evaluations(settings, asset: str) -> dict[str, dg.AssetCheckEvaluation]:
    """The asset's checks, without the asset (a run needs one asset for its partitions: platform_reference,
    cheap, is materialised with them)."""
    cheap = dg.AssetSelection.assets("platform_reference").without_checks()
    selection = dg.AssetSelection.checks_for_assets(asset) | cheap
    with in_memory_instance() as instance:
        result = materialize(settings, SEPTEMBER, selection=selection, instance=instance)
    return {
        e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key == dg.AssetKey(asset)
    }


def test_the_release_checks_pass_on_what_the_monthly_job_wrote(copied):
    published = _evaluations(copied, "published_index")
    assert published["publication_intact"].passed, published["publication_intact"].metadata
    report = _evaluations(copied, "monthly_report")
    assert report["report_complete"].passed, report["report_complete"].metadata
    font = report["report_has_cjk_font"]
    if find_cjk_font_directory() is not None:  # the machine has Noto CJK (CI installs fonts-noto-cjk)
        assert font.passed and "Chinese names drawn with" in font.metadata["detail"].value
    else:
        assert not font.passed and font.severity == dg.AssetCheckSeverity.WARN
    assert "charts" in report["report_complete"].metadata["detail"].value


def test_an_export_changed_after_publication_fails_its_check(copied):
    version = int(Warehouse(copied.warehouse_path).publications(SEPTEMBER)["version"].max())
    export = copied.exports_dir / str(SEPTEMBER) / f"v{version}" / "index.csv"
    export.write_text(export.read_text(encoding="utf-8").replace("Nanjing", "Nanking", 1), encoding="utf-8")
    evaluation = _evaluations(copied, "published_index")["publication_intact"]
    assert not evaluation.passed
    assert "index.csv: sha256 differs from the manifest" in evaluation.metadata["detail"].value
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR


def test_a_report_missing_a_chart_fails_its_check(copied):
    version = int(Warehouse(copied.warehouse_path).publications(SEPTEMBER)["version"].max())
    folder = copied.reports_dir / str(SEPTEMBER) / f"v{version}"
    (folder / "map.png").unlink()
    evaluation = _evaluations(copied, "monthly_report")["report_complete"]
    assert not evaluation.passed and evaluation.metadata["sample"].value == [
        {"chart": "map", "problem": "no image"}
    ]


def test_the_font_check_says_what_an_older_report_lacks():
    finding = release_rules.report_has_cjk_font(None)
    assert not finding.passed and "earlier version" in finding.detail
    without = release_rules.report_has_cjk_font({"cjk": False, "note": "no CJK font found"})
    assert not without.passed and "fonts-noto-cjk" in without.fix
    assert release_rules.report_has_cjk_font({"cjk": True, "note": "Chinese names drawn with Noto"}).passed
