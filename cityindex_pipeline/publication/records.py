"""What a published version is: its rows and the digest of their numbers, what it was made from and
by (provenance, the checks of its run), and whether a run has anything new to publish."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from cityindex_pipeline.core.fingerprint import document_lines
from cityindex_pipeline.core.platforms import PLATFORMS


class PublicationError(RuntimeError):
    """A publication cannot be made without rewriting one that exists; the message says which."""


CONTENT_COLUMNS = (
    "city_id", "name_en", "name_zh", "rank", "score", "quantitative_score", "qualitative_score",
    *(f"{p}_score" for p in PLATFORMS), "previous_rank", "rank_change", "score_change",
    "median_rank", "rank_p05", "rank_p95", "rank_robust",
)  # fmt: skip


@dataclass(frozen=True)
class Provenance:
    """What a publication was made from and by, beside its numbers."""

    methodology_version: str
    registry_version: str
    pull_ids: list[str]
    inputs_sha256: str
    raw_documents: int
    qualitative_sha256: str
    code_version: str
    previous_version: int | None = None
    """The published version of the previous month whose rows month-on-month change used (None: the
    previous month is unpublished, or its rows are not those of any of its publications)."""
    previous_inputs_sha256: str | None = None
    """Fingerprint of the previous month's rows that were used (`previous_month.inputs_sha256`)."""


@dataclass(frozen=True)
class GateRecord:
    """The checks of the run that published, as the publication records them."""

    passed: int = 0
    warnings: list[str] = field(default_factory=list)
    overridden: list[str] = field(default_factory=list)
    override_reason: str = ""


def publication_rows(
    comprehensive: pl.DataFrame,
    platform_scores: pl.DataFrame,
    cities: pl.DataFrame,
    uncertainty: pl.DataFrame,
) -> pl.DataFrame:
    """The published table: rank and its 5-95 % interval, score, its two parts, each platform's score
    (null: no account there)."""
    per_platform = platform_scores.select("city_id", pl.col("platform") + "_score", "score").pivot(
        on="platform", index="city_id", values="score"
    )
    for platform in PLATFORMS:
        if f"{platform}_score" not in per_platform.columns:
            per_platform = per_platform.with_columns(pl.lit(None, pl.Float64).alias(f"{platform}_score"))
    return (
        comprehensive.join(cities.select("city_id", "name_en", "name_zh"), on="city_id", how="left")
        .join(per_platform, on="city_id", how="left")
        .join(
            uncertainty.select(
                "city_id", "median_rank", "rank_p05", "rank_p95", pl.col("robust").alias("rank_robust")
            ),
            on="city_id",
            how="left",
        )
        .select(CONTENT_COLUMNS)
        .sort("rank", "city_id")
    )


def content_sha256(rows: pl.DataFrame) -> str:
    """A digest of the published numbers (full precision), independent of run ids and times."""
    canonical = rows.select(CONTENT_COLUMNS).sort("city_id").write_csv(float_precision=17)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def inputs_fingerprint(documents: pl.DataFrame, qualitative: pl.DataFrame) -> tuple[str, str]:
    """(sha256 over the raw documents' sha256s, sha256 of the panel's scores): what the numbers came
    from, independent of when and by which run they were pulled."""
    lines = document_lines(documents)
    panel = (
        qualitative.select("city_id", "rater", "criterion", "score", "source")
        .sort("city_id", "rater", "criterion")
        .write_csv(float_precision=17)
    )
    qualitative_sha256 = hashlib.sha256(panel.encode("utf-8")).hexdigest()
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8") + b"\n")
    digest.update(b"qualitative|" + qualitative_sha256.encode("ascii"))
    return digest.hexdigest(), qualitative_sha256


def code_version(package_dir: Path | None = None) -> str:
    """`cityindex <version>, commit <sha>` (with `+uncommitted` for a dirty checkout), or `..., unknown
    commit` outside a git checkout or without git: never an error."""
    try:
        version = metadata.version("cityindex")
    except metadata.PackageNotFoundError:
        version = "unknown version"
    where = package_dir or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"cityindex {version}, unknown commit"
    if len(commit) != 40:
        return f"cityindex {version}, unknown commit"
    return f"cityindex {version}, commit {commit}{'+uncommitted' if dirty else ''}"


def changes_since(latest: dict[str, Any] | None, digest: str, provenance: Provenance) -> list[str]:
    """What differs from the latest version: numbers, inputs, methodology (empty: nothing to publish)."""
    if latest is None:
        return ["first publication"]
    changed = []
    if latest["content_sha256"] != digest:
        changed.append("numbers")
    if latest.get("inputs_sha256") != provenance.inputs_sha256:
        changed.append("inputs")
    if latest["methodology_version"] != provenance.methodology_version:
        changed.append(f"methodology {latest['methodology_version']} -> {provenance.methodology_version}")
    pinned_before = latest.get("previous_inputs_sha256")
    if (
        pinned_before
        and provenance.previous_inputs_sha256
        and pinned_before != provenance.previous_inputs_sha256
    ):
        changed.append("previous month")
    return changed


def default_reason(changed: list[str]) -> str:
    if changed == ["first publication"]:
        return "first publication"
    if "numbers" in changed:
        return "re-run: numbers changed" + (
            f" ({', '.join(c for c in changed if c != 'numbers')})" if len(changed) > 1 else ""
        )
    return f"re-run: {', '.join(changed)} changed, numbers unchanged"
