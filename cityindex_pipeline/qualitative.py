"""The expert panel's qualitative scores (20 % of the index).

A real panel's scores are read from `$CITYINDEX_HOME/landing/qualitative/<YYYY-MM>.csv` with the
columns `city_id,rater,criterion,score` (0-100). Without that file the demo SIMULATES a panel:
every simulated score is invented, labelled `source = simulated`, and deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import polars as pl

from cityindex_pipeline.months import Month

CRITERIA = ("content_quality", "cultural_distinctiveness", "communication_strategy")
SIMULATED_RATERS = tuple(f"simulated-rater-{n}" for n in range(1, 6))
COLUMNS = ("city_id", "rater", "criterion", "score")


class PanelError(ValueError):
    """A panel file that cannot be used; the message names the file, the line and the problem."""


def panel_path(landing_dir: Path, month: Month) -> Path:
    return landing_dir / "qualitative" / f"{month}.csv"


def simulate_panel(city_ids: list[str], month: Month, seed: int) -> pl.DataFrame:
    """Invented scores: a persistent city impression plus each rater's leniency and monthly noise."""
    rows = []
    for city_id in sorted(city_ids):
        impression = _rng(seed, city_id).gauss(62, 12)
        for rater in SIMULATED_RATERS:
            leniency = _rng(seed, rater).gauss(0, 4)
            for criterion in CRITERIA:
                noise = _rng(seed, city_id, rater, criterion, str(month)).gauss(0, 6)
                score = round(min(100.0, max(0.0, impression + leniency + noise)), 1)
                rows.append((city_id, rater, criterion, score))
    return pl.DataFrame(
        rows,
        schema=dict(zip(COLUMNS, (pl.String, pl.String, pl.String, pl.Float64), strict=True)),
        orient="row",
    ).with_columns(pl.lit("simulated").alias("source"))


def load_panel(path: Path, city_ids: list[str]) -> pl.DataFrame:
    """Read a real panel file and check it: known cities, every city scored, scores in [0, 100]."""
    try:
        frame = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as error:
        raise PanelError(f"{path.name}: not a readable CSV ({error})") from None
    missing_columns = [c for c in COLUMNS if c not in frame.columns]
    if missing_columns:
        raise PanelError(f"{path.name}: missing column(s) {missing_columns}")
    frame = frame.with_row_index("line", offset=2).with_columns(
        pl.col("score").str.strip_chars().cast(pl.Float64, strict=False).alias("score_value")
    )
    problems = [
        (frame.filter(~pl.col("city_id").is_in(city_ids)), "unknown city_id"),
        (frame.filter(pl.col("score_value").is_null()), "score is not a number"),
        (frame.filter((pl.col("score_value") < 0) | (pl.col("score_value") > 100)), "score outside 0-100"),
        (frame.filter(pl.struct("city_id", "rater", "criterion").is_duplicated()), "duplicate rater score"),
    ]
    for bad, reason in problems:
        if bad.height:
            row = bad.row(0, named=True)
            raise PanelError(
                f"{path.name} line {row['line']}: {reason} "
                f"(city_id={row['city_id']!r}, rater={row['rater']!r}, score={row['score']!r})"
            )
    unscored = sorted(set(city_ids) - set(frame["city_id"]))
    if unscored:
        raise PanelError(f"{path.name}: no score for {len(unscored)} cities, e.g. {unscored[:5]}")
    return frame.select(
        "city_id", "rater", "criterion", pl.col("score_value").alias("score"), pl.lit("panel").alias("source")
    )


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
