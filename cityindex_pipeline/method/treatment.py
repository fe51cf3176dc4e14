"""Outlier treatment (the Handbook's step "treat"), as COINr's `Treat()` does it by default.

Per indicator, within platform and month, over the cities that have a value: the indicator is
flagged when |skewness| > 2 and kurtosis > 3.5 (both thresholds in the methodology file). A
flagged indicator goes through the configured steps in order, keeping the first that clears the
flag (or the last one tried):

- `winsorise`: the most extreme value(s) on the side of the skew (read again at every step) are set
  to the next value in, all the values tied at the extreme together, while the flag holds and fewer
  than `winsorise_max_points` cities have been changed; the result is the original values clipped
  to [`low_cap`, `high_cap`]. `ties_at_extreme` says what happens when a step would take the count
  past the cap: `refuse` (to 0.4.0) does not take it; `together` (COINr) takes it, so the count
  can end above the cap;
- `log`: of the original values, `shifted_log1p` (to 0.4.0) ln(1 + x - m), m = min(0, smallest
  value), or `log_ct` (COINr's `log_CT`) ln(x - min + 0.01 (max - min)), which does not depend on
  the unit of x.

Skewness and kurtosis are the bias-corrected sample statistics of spreadsheets (Excel `SKEW` and
`KURT`, e1071 type 2): with n values, d = x - mean,

    skewness = sqrt(n (n - 1)) / (n - 2) * sqrt(n) * sum(d^3) / sum(d^2)^(3/2)
    kurtosis = ((n + 1) (n sum(d^4) / sum(d^2)^2 - 3) + 6) (n - 1) / ((n - 2) (n - 3))

Fewer than four values, or values that are all equal, are never flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

TREATMENT_STEPS = ("winsorise", "log")
LOG_FORMS = ("shifted_log1p", "log_ct")
TIES_AT_EXTREME = ("refuse", "together")
LOG_CT_OFFSET = 0.01
"""COINr's `log_CT`: the smallest value is logged at 1 % of the range above the minimum."""


@dataclass(frozen=True)
class TreatmentSpec:
    skewness: float = 2.0
    kurtosis: float = 3.5
    winsorise_max_points: int = 5
    steps: tuple[str, ...] = TREATMENT_STEPS
    log: str = "shifted_log1p"
    """`shifted_log1p` ln(1 + x - min(0, min x)) (to 0.4.0) | `log_ct` ln(x - min + 0.01 range) (COINr)."""
    ties_at_extreme: str = "refuse"
    """A winsorising step that would move the count past the cap: `refuse` it (to 0.4.0), or take
    it with every tied value (`together`, COINr: the count can end above the cap)."""


@dataclass(frozen=True)
class Plan:
    """What was done to one indicator of one platform, enough to redo it on the same or other values."""

    treatment: str  # none | winsorised | log
    skewness: float | None
    kurtosis: float | None
    treated_skewness: float | None
    treated_kurtosis: float | None
    winsorised_points: int = 0
    low_cap: float | None = None
    high_cap: float | None = None
    log_shift: float = 0.0
    log_offset: float | None = None
    """None: ln(1 + x - log_shift) (shifted_log1p); else ln(x - log_shift + log_offset) (log_ct)."""

    def apply(self, values: np.ndarray) -> np.ndarray:
        if self.treatment == "winsorised":
            low = -np.inf if self.low_cap is None else self.low_cap
            high = np.inf if self.high_cap is None else self.high_cap
            return np.clip(values, low, high)
        if self.treatment == "log" and self.log_offset is None:
            return np.log1p(np.maximum(values - self.log_shift, 0.0))
        if self.treatment == "log":
            return np.log(np.maximum(values - self.log_shift, 0.0) + self.log_offset)
        return values


def skewness(values: np.ndarray) -> float | None:
    n = len(values)
    if n < 3:
        return None
    d = values - values.mean()
    s2 = float(np.sum(d**2))
    if s2 <= 0.0:
        return None
    return math.sqrt(n * (n - 1)) / (n - 2) * math.sqrt(n) * float(np.sum(d**3)) / s2**1.5


def kurtosis(values: np.ndarray) -> float | None:
    n = len(values)
    if n < 4:
        return None
    d = values - values.mean()
    s2 = float(np.sum(d**2))
    if s2 <= 0.0:
        return None
    r = n * float(np.sum(d**4)) / s2**2
    return ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))


def flagged(values: np.ndarray, spec: TreatmentSpec) -> bool:
    skew, kurt = skewness(values), kurtosis(values)
    return skew is not None and kurt is not None and abs(skew) > spec.skewness and kurt > spec.kurtosis


def winsorise(values: np.ndarray, spec: TreatmentSpec) -> tuple[np.ndarray, int, float | None, float | None]:
    """Move the extreme value(s) on the side of the skew in, one distinct value at a time: the values,
    how many points moved (also when the log is then used instead) and the caps reached."""
    treated = values.copy()
    low_cap = high_cap = None
    together = spec.ties_at_extreme == "together"
    while flagged(treated, spec):
        if together and int(np.sum(treated != values)) >= spec.winsorise_max_points:
            break  # COINr checks the cap before a step only: the last step may have passed it
        high_side = (skewness(treated) or 0.0) > 0
        extreme = treated.max() if high_side else treated.min()
        at_extreme = treated == extreme
        rest = treated[~at_extreme]
        candidate = np.where(at_extreme, rest.max() if high_side else rest.min(), treated)
        if not together and int(np.sum(candidate != values)) > spec.winsorise_max_points:
            break
        treated = candidate
        if high_side:
            high_cap = float(rest.max())
        else:
            low_cap = float(rest.min())
    return treated, int(np.sum(treated != values)), low_cap, high_cap


def plan_treatment(values: np.ndarray, spec: TreatmentSpec) -> Plan:
    """Decide the treatment of one indicator from its values (nulls already left out)."""
    values = np.asarray(values, dtype=float)
    skew, kurt = skewness(values), kurtosis(values)
    if not flagged(values, spec):
        return Plan("none", skew, kurt, skew, kurt)
    plan = Plan("none", skew, kurt, skew, kurt)
    for step in spec.steps:
        if step == "winsorise":
            treated, points, low_cap, high_cap = winsorise(values, spec)
            plan = Plan(
                "winsorised",
                skew,
                kurt,
                skewness(treated),
                kurtosis(treated),
                points,
                low_cap=low_cap,
                high_cap=high_cap,
            )
            if points == 0:  # not even one point could be moved within the limit
                plan = Plan("none", skew, kurt, skew, kurt)
        elif step == "log":
            plan = _log_plan(values, spec, skew, kurt)
        else:  # validated when the methodology is loaded
            raise ValueError(f"unknown treatment step {step!r}")
        if plan.treatment != "none" and not flagged(plan.apply(values), spec):
            break
    return plan


def _log_plan(values: np.ndarray, spec: TreatmentSpec, skew: float | None, kurt: float | None) -> Plan:
    """The log of the original values, in the form the methodology names."""
    if spec.log == "log_ct":
        low, high = float(values.min()), float(values.max())
        shift, offset = low, LOG_CT_OFFSET * (high - low)
        treated = np.log(values - shift + offset)
    else:
        shift, offset = min(0.0, float(values.min())), None
        treated = np.log1p(values - shift)
    return Plan("log", skew, kurt, skewness(treated), kurtosis(treated), log_shift=shift, log_offset=offset)


PLAN_COLUMNS = {
    "platform": pl.String,
    "indicator": pl.String,
    "transform": pl.String,
    "skewness": pl.Float64,
    "kurtosis": pl.Float64,
    "winsorised_points": pl.Int32,
    "treated_skewness": pl.Float64,
    "treated_kurtosis": pl.Float64,
    "low_cap": pl.Float64,
    "high_cap": pl.Float64,
    "log_shift": pl.Float64,
    "log_offset": pl.Float64,
}


def treatment_plans(long: pl.DataFrame, spec: TreatmentSpec) -> pl.DataFrame:
    """One row per (platform, indicator): the statistics and the treatment decided."""
    rows = []
    present = long.filter(pl.col("raw_value").is_not_null()).sort("platform", "indicator", "city_id")
    keys = long.select("platform", "indicator").unique().sort("platform", "indicator")
    for platform, indicator in keys.iter_rows():
        values = present.filter(platform=platform, indicator=indicator)["raw_value"].to_numpy()
        plan = plan_treatment(values, spec)
        rows.append(
            {
                "platform": platform,
                "indicator": indicator,
                "transform": plan.treatment,
                "skewness": plan.skewness,
                "kurtosis": plan.kurtosis,
                "winsorised_points": plan.winsorised_points,
                "treated_skewness": plan.treated_skewness,
                "treated_kurtosis": plan.treated_kurtosis,
                "low_cap": plan.low_cap,
                "high_cap": plan.high_cap,
                "log_shift": plan.log_shift,
                "log_offset": plan.log_offset,
            }
        )
    return pl.DataFrame(rows, schema=PLAN_COLUMNS)


def apply_plans(long: pl.DataFrame, plans: pl.DataFrame) -> pl.DataFrame:
    """The treated value of every row under the plan of its (platform, indicator)."""
    joined = long.join(plans, on=["platform", "indicator"], how="left")
    x = pl.col("raw_value")
    low = pl.col("low_cap").fill_null(-math.inf)
    high = pl.col("high_cap").fill_null(math.inf)
    treated = (
        pl.when(pl.col("transform") == "winsorised")
        .then(pl.min_horizontal(pl.max_horizontal(x, low), high))
        .when((pl.col("transform") == "log") & pl.col("log_offset").is_null())
        .then((x - pl.col("log_shift")).clip(lower_bound=0.0).log1p())
        .when(pl.col("transform") == "log")
        .then(((x - pl.col("log_shift")).clip(lower_bound=0.0) + pl.col("log_offset")).log())
        .otherwise(x)
    )
    return joined.with_columns(
        pl.when(x.is_null()).then(None).otherwise(treated).alias("treated_value"),
        pl.col("transform").fill_null("none"),
        (
            pl.when(pl.col("transform") == "winsorised")
            .then((x < low) | (x > high))
            .otherwise(pl.lit(False))
            .fill_null(False)
        ).alias("winsorised"),
    ).drop("low_cap", "high_cap", "log_shift", "log_offset")
