"""Released methodologies stay loadable, unchanged, by their version."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from cityindex_pipeline import method
from cityindex_pipeline.method import config
from cityindex_pipeline.method.config import (
    DEFAULT_METHODOLOGY,
    VERSIONS_DIR,
    UnknownMethodologyVersion,
    available_versions,
    load_methodology,
)

# The sha256 of each released methodology file, recorded when it was released. A released file is
# never edited: a change of method is a new version with a new file (and a new line here).
RELEASED = {
    "0.1.0": "0ac57f1c3a5ed916868335e4c3a69b5ef78a1f5a140ba23d56b3f765270cfc5f",
    "0.2.0": "01ce6892b239600923f663ce8209bccf1838b5b99f329db65f6d7d46b91f421a",
    "0.3.0": "08e89b96d71dd4793f94cbe534107b10ca8063e1aee3d43ecb592d9d115374f4",
    "0.4.0": "20e94bf5d7c1a0ec4654530eb74f13e6c7ac4e3f6523730ee136f7a7f6765167",
    "0.5.0": "34be6d1d1caa2318f9e8df86227f63721dfb9d2380cf965691f9dab337d3ed86",
}


def test_every_archived_version_is_recorded_and_unchanged():
    assert set(available_versions()) == set(RELEASED), "archive a version and record its sha256 together"
    for version, digest in RELEASED.items():
        data = (VERSIONS_DIR / f"{version}.yaml").read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"released methodology {version} was edited"


def test_the_current_methodology_is_its_archived_release():
    current = load_methodology()
    archived = VERSIONS_DIR / f"{current.version}.yaml"
    assert archived.exists(), f"methodology.yaml declares {current.version}, which is not archived"
    assert archived.read_bytes() == DEFAULT_METHODOLOGY.read_bytes(), (
        "methodology.yaml differs from its archived release: bump the version and archive the new file"
    )


def test_each_version_loads_as_itself_and_the_sha_is_of_its_file():
    for version in available_versions():
        loaded = load_methodology(version)
        assert loaded.version == version
        assert loaded.sha256 == RELEASED[version]


def test_versions_are_ordered_oldest_first():
    versions = available_versions()
    keys = [tuple(int(p) for p in v.split(".")) for v in versions]
    assert keys == sorted(keys) and versions[0] == "0.1.0"


def test_an_unknown_version_names_the_available_ones():
    with pytest.raises(UnknownMethodologyVersion, match=r"'9\.9\.9'.*available: 0\.1\.0, 0\.2\.0"):
        load_methodology("9.9.9")


def test_the_environment_chooses_the_version_of_a_run(monkeypatch):
    monkeypatch.setenv(config.VERSION_VARIABLE, "0.1.0")
    assert load_methodology().version == "0.1.0"
    monkeypatch.setenv(config.VERSION_VARIABLE, "0.0.7")
    with pytest.raises(UnknownMethodologyVersion):
        load_methodology()


def test_changing_the_version_changes_the_recorded_methodology_version():
    cities = pl.DataFrame({"city_id": ["a", "b"]})
    scores = pl.DataFrame(
        {"platform": ["facebook", "facebook"], "city_id": ["a", "b"], "score": [80.0, 20.0]}
    )
    weights = pl.DataFrame({"platform": ["facebook"], "weight": [1.0]})
    panel = pl.DataFrame({"city_id": ["a", "b"], "score": [50.0, 50.0]})
    previous = pl.DataFrame(schema={"city_id": pl.String, "score": pl.Float64, "rank": pl.Int32})
    recorded = set()
    for version in available_versions():
        out = method.comprehensive_index(cities, scores, weights, panel, previous, load_methodology(version))
        (stamp,) = out["methodology_version"].unique().to_list()
        assert stamp == version
        recorded.add(stamp)
    assert len(recorded) == len(available_versions())
