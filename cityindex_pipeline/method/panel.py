"""The expert panel's qualitative scores (20 % of the index).

A panel scores every city of the month's roster on each criterion (0-100), several raters each.
Its file is `$CITYINDEX_HOME/landing/qualitative/<YYYY-MM>.csv` with the columns
`city_id,rater,criterion,score`, read as every landing file is (`read_panel_file`: a regular file
inside the landing folder, never through a link). A file that cannot be used raises a typed
`PanelError` naming the file, the line and the problem: it is a link, a pipe or a folder, an
unknown or a missing city, an unknown criterion, a rater scoring the same city and criterion twice,
a score that is not a number or outside 0-100, a rater who left criteria out, too few raters.

A month without a file follows the methodology's `missing_panel` policy: `carry-forward` (the
previous month's scores, each row flagged with the month it was first given, `carried_from`),
`block` (the month fails), or `simulate`. With the simulated source the whole month is invented,
and so is a missing panel: every simulated score is labelled `source = simulated`.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.sources.landing_tree import LandingEntryError, LandingTree
from cityindex_pipeline.warehouse.tables import STAMPED, polars_schema

CRITERIA = ("content_quality", "cultural_distinctiveness", "communication_strategy")
SIMULATED_RATERS = tuple(f"simulated-rater-{n}" for n in range(1, 6))
COLUMNS = ("city_id", "rater", "criterion", "score")
MISSING_PANEL_POLICIES = ("carry-forward", "block", "simulate")
SCHEMA = polars_schema("idx.qualitative_scores", without=STAMPED)


@dataclass(frozen=True)
class PanelSpec:
    """The methodology's `qualitative` section."""

    criteria: tuple[str, ...] = CRITERIA
    min_raters: int = 1
    missing_panel: str = "simulate"


class PanelError(ValueError):
    """A panel that cannot be used; the message names the file, the line and the problem."""


class PanelFileError(PanelError):
    """The file is not a readable CSV with the expected columns."""


class UnknownCityError(PanelError):
    """A city_id that is not in the month's roster."""


class MissingCityError(PanelError):
    """A city of the roster that nobody scored."""


class UnknownCriterionError(PanelError):
    """A criterion that is not one of the methodology's."""


class DuplicateRaterError(PanelError):
    """A rater scoring the same city on the same criterion more than once."""


class ScoreNotANumberError(PanelError):
    """A score that is empty or not a number."""


class ScoreOutOfRangeError(PanelError):
    """A score below 0 or above 100."""


class IncompleteRatingError(PanelError):
    """A rater who scored a city on some of the criteria but not all."""


class TooFewRatersError(PanelError):
    """A city scored by fewer raters than the methodology asks."""


class PanelMissingError(PanelError):
    """No panel file for the month, and the policy does not allow going on without one."""


PANEL_FOLDER = "qualitative"


def panel_path(landing_dir: Path, month: Month) -> Path:
    return landing_dir / PANEL_FOLDER / f"{month}.csv"


@dataclass(frozen=True)
class PanelFile:
    """A month's panel file as the landing folder holds it: where it is (relative to the landing
    folder) and its bytes, or None when there is no file."""

    where: str
    content: bytes | None


def read_panel_file(landing_dir: Path, month: Month) -> PanelFile:
    """The month's panel file, read as every landing file is (`LandingTree`): a regular file inside the
    landing folder, never through a link. Anything else by that name is a `PanelFileError` naming it."""
    where = f"{PANEL_FOLDER}/{month}.csv"
    try:
        file = LandingTree(landing_dir).read(PANEL_FOLDER, f"{month}.csv")
    except LandingEntryError as error:
        raise PanelFileError(
            f"{error}: the panel file must be a regular file inside the landing folder, not reached through a link"
        ) from None
    return PanelFile(where, None if file is None else file.content)


def simulate_panel(
    city_ids: list[str], month: Month, seed: int, criteria: tuple[str, ...] = CRITERIA
) -> pl.DataFrame:
    """Invented scores: a persistent city impression plus each rater's leniency and monthly noise."""
    rows = []
    for city_id in sorted(city_ids):
        impression = _rng(seed, city_id).gauss(62, 12)
        for rater in SIMULATED_RATERS:
            leniency = _rng(seed, rater).gauss(0, 4)
            for criterion in criteria:
                noise = _rng(seed, city_id, rater, criterion, str(month)).gauss(0, 6)
                score = round(min(100.0, max(0.0, impression + leniency + noise)), 1)
                rows.append((city_id, rater, criterion, score, "simulated", None))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def load_panel(
    content: bytes, city_ids: list[str], spec: PanelSpec | None = None, *, name: str = "panel"
) -> pl.DataFrame:
    """Read a real panel file's bytes and check them against the roster and the methodology (see
    module doc); `name` is what messages call the file."""
    spec = spec or PanelSpec()
    try:
        frame = pl.read_csv(io.BytesIO(content), infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as error:
        raise PanelFileError(f"{name}: not a readable CSV ({error})") from None
    missing_columns = [c for c in COLUMNS if c not in frame.columns]
    if missing_columns:
        raise PanelFileError(f"{name}: missing column(s) {missing_columns}; expected {','.join(COLUMNS)}")
    frame = frame.with_row_index("line", offset=2).with_columns(
        pl.col("city_id", "rater", "criterion").str.strip_chars(),
        pl.col("score").str.strip_chars().cast(pl.Float64, strict=False).alias("score_value"),
    )
    rules: list[tuple[pl.Expr, type[PanelError], str]] = [
        (
            ~pl.col("city_id").is_in(city_ids) | pl.col("city_id").is_null(),
            UnknownCityError,
            "unknown city_id",
        ),
        (
            ~pl.col("criterion").is_in(spec.criteria) | pl.col("criterion").is_null(),
            UnknownCriterionError,
            f"unknown criterion (expected one of {', '.join(spec.criteria)})",
        ),
        (pl.col("rater").is_null() | (pl.col("rater") == ""), PanelFileError, "empty rater"),
        (
            pl.col("score_value").is_null() | pl.col("score_value").is_nan(),
            ScoreNotANumberError,
            "score is not a number",
        ),
        (
            (pl.col("score_value") < 0) | (pl.col("score_value") > 100),
            ScoreOutOfRangeError,
            "score outside 0-100",
        ),
        (
            pl.int_range(pl.len()).over("city_id", "rater", "criterion") > 0,
            DuplicateRaterError,
            "the rater already scored this city on this criterion",
        ),
    ]
    for broken, error, reason in rules:
        bad = frame.filter(broken)
        if bad.height:
            row = bad.row(0, named=True)
            also = f" (and {bad.height - 1} more line(s))" if bad.height > 1 else ""
            raise error(
                f"{name} line {row['line']}: {reason} (city_id={row['city_id']!r}, rater={row['rater']!r}, "
                f"criterion={row['criterion']!r}, score={row['score']!r}){also}"
            )
    unscored = sorted(set(city_ids) - set(frame["city_id"]))
    if unscored:
        raise MissingCityError(f"{name}: no score for {len(unscored)} city(ies), e.g. {unscored[:5]}")
    coverage = frame.group_by("city_id", "rater").agg(pl.col("criterion").n_unique().alias("criteria"))
    incomplete = coverage.filter(pl.col("criteria") < len(spec.criteria)).sort("city_id", "rater")
    if incomplete.height:
        row = incomplete.row(0, named=True)
        raise IncompleteRatingError(
            f"{name}: rater {row['rater']!r} scored {row['city_id']!r} on {row['criteria']} of the "
            f"{len(spec.criteria)} criteria ({', '.join(spec.criteria)})"
        )
    raters = (
        coverage.group_by("city_id").agg(pl.len().alias("raters")).filter(pl.col("raters") < spec.min_raters)
    )
    if raters.height:
        row = raters.sort("city_id").row(0, named=True)
        raise TooFewRatersError(
            f"{name}: {row['city_id']!r} has {row['raters']} rater(s); the methodology asks for "
            f"at least {spec.min_raters}"
        )
    return frame.select(
        "city_id",
        "rater",
        "criterion",
        pl.col("score_value").alias("score"),
        pl.lit("panel").alias("source"),
        pl.lit(None, pl.Date).alias("carried_from"),
    ).sort("city_id", "rater", "criterion")


def carry_forward(
    previous: pl.DataFrame, previous_month: Month, city_ids: list[str], path: str
) -> pl.DataFrame:
    """Last month's scores for this month's roster, each flagged with the month it was first given."""
    if previous.height == 0:
        raise PanelMissingError(
            f"no panel file {path} and nothing to carry forward: {previous_month} has no qualitative scores"
        )
    unscored = sorted(set(city_ids) - set(previous["city_id"]))
    if unscored:
        raise PanelMissingError(
            f"no panel file {path}; {previous_month}'s scores cannot be carried forward for "
            f"{len(unscored)} city(ies) it did not score, e.g. {unscored[:5]}"
        )
    first_given: date = previous_month.first_day
    carried = previous if "carried_from" in previous.columns else previous.with_columns(carried_from=None)
    return (
        carried.filter(pl.col("city_id").is_in(city_ids))
        .with_columns(pl.col("carried_from").cast(pl.Date).fill_null(first_given))
        .select(list(SCHEMA))
        .cast(SCHEMA)
        .sort("city_id", "rater", "criterion")
    )


def panel_for_month(
    month: Month,
    panel: PanelFile,
    city_ids: list[str],
    spec: PanelSpec,
    *,
    previous: pl.DataFrame,
    simulated_source: bool,
    seed: int,
) -> pl.DataFrame:
    """The month's panel: its file if there is one, else what the `missing_panel` policy says."""
    if panel.content is not None:
        return load_panel(panel.content, city_ids, spec, name=panel.where)
    if simulated_source or spec.missing_panel == "simulate":
        return simulate_panel(city_ids, month, seed, spec.criteria)
    if spec.missing_panel == "carry-forward":
        return carry_forward(previous, month.previous(), city_ids, panel.where)
    raise PanelMissingError(
        f"no panel file {panel.where} for {month}, and the methodology's missing_panel is 'block'"
    )


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
