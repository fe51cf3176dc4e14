"""What both peers do after their data work: a platform's city indicators to scores, and the
platforms and the panel to each city's comprehensive score, as a practitioner would write it in
pandas and numpy (133 cities an indicator: the treatment loop runs on a few values at a time).

For the default methodology: treatment by skewness and kurtosis (winsorising, then a log, as
COINr), min-max normalisation, arithmetic aggregation, reweighting a missing dimension.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CONSTANT_SCORE = {"drop": np.nan, "fifty": 50.0}
"""What a constant indicator scores, by the methodology's `normalisation_constant`."""


def _skew(x: np.ndarray) -> float | None:
    n = len(x)
    if n < 3:
        return None
    d = x - x.mean()
    s2 = (d**2).sum()
    if s2 <= 0:
        return None
    return float(np.sqrt(n * (n - 1)) / (n - 2) * np.sqrt(n) * (d**3).sum() / s2**1.5)


def _kurt(x: np.ndarray) -> float | None:
    n = len(x)
    if n < 4:
        return None
    d = x - x.mean()
    s2 = (d**2).sum()
    if s2 <= 0:
        return None
    r = n * (d**4).sum() / s2**2
    return float(((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3)))


def _flagged(x: np.ndarray, spec: Any) -> bool:
    s, k = _skew(x), _kurt(x)
    return s is not None and k is not None and abs(s) > spec.skewness and k > spec.kurtosis


def treat(values: pd.Series, spec: Any) -> pd.Series:
    """Winsorise the skewed side one value at a time (at most a few cities), else log; as COINr."""
    x = values.dropna().to_numpy(dtype=float)
    if not _flagged(x, spec):
        return values
    result = values
    for step in spec.steps:
        if step == "winsorise":
            treated, low, high = x.copy(), -np.inf, np.inf
            together = spec.ties_at_extreme == "together"  # COINr: the cap is checked before a step
            while _flagged(treated, spec):
                if together and (treated != x).sum() >= spec.winsorise_max_points:
                    break
                high_side = (_skew(treated) or 0.0) > 0
                extreme = treated.max() if high_side else treated.min()
                rest = treated[treated != extreme]
                candidate = np.where(treated == extreme, rest.max() if high_side else rest.min(), treated)
                if not together and (candidate != x).sum() > spec.winsorise_max_points:
                    break
                treated = candidate
                if high_side:
                    high = rest.max()
                else:
                    low = rest.min()
            if (treated != x).sum() == 0:
                continue
            result = values.clip(lower=low, upper=high)
            if not _flagged(result.dropna().to_numpy(dtype=float), spec):
                return result
        elif step == "log":
            if spec.log == "log_ct":  # COINr's log_CT
                result = np.log(values - x.min() + 0.01 * (x.max() - x.min()))
            else:
                result = np.log1p((values - min(0.0, x.min())).clip(lower=0.0))
            if not _flagged(result.dropna().to_numpy(dtype=float), spec):
                return result
    return result


def platform_scores(indicators: pd.DataFrame, methodology: Any) -> pd.DataFrame:
    """City indicators of one platform (a row per city) to its dimension scores and score."""
    scored = indicators[["city_id"]].copy()
    for dimension in methodology.dimensions:
        weighted = pd.Series(0.0, index=indicators.index)
        weights = pd.Series(0.0, index=indicators.index)
        for name, weight in dimension.indicators.items():
            x = treat(indicators[name].astype(float), methodology.treatment)
            low, high = x.min(), x.max()
            if high == low:
                normalised = x.where(x.isna(), CONSTANT_SCORE[methodology.normalisation_constant])
            else:
                normalised = (x - low) / (high - low) * 100.0
            weighted += normalised.fillna(0.0) * weight
            weights += normalised.notna() * weight
        scored[dimension.name] = weighted / weights.where(weights > 0)
        if methodology.aggregation.missing_dimension != "reweight":
            scored[dimension.name] = scored[dimension.name].fillna(0.0)
    present = sum(scored[d.name].notna() * d.weight for d in methodology.dimensions)
    total = sum(scored[d.name].fillna(0.0) * d.weight for d in methodology.dimensions)
    scored["score"] = (total / present.where(present > 0)).fillna(0.0)  # no dimension: adds 0
    return scored


def comprehensive_scores(
    platform_city_scores: dict[str, pd.DataFrame],
    cities: pd.DataFrame,
    weights: pd.DataFrame,
    qualitative: pd.DataFrame,
    methodology: Any,
) -> pd.DataFrame:
    """Each city's comprehensive score (columns city_id, score): the platforms' scores weighted, a
    platform where the city has no account adding 0, then 80 % of that and 20 % of the panel."""
    weight_of = weights.set_index("platform")["weight"]
    quantitative = pd.Series(0.0, index=pd.Index(cities["city_id"], name="city_id"))
    for platform, scores in platform_city_scores.items():
        if platform in weight_of.index:
            by_city = scores.set_index("city_id")["score"] * weight_of[platform]
            quantitative = quantitative.add(by_city, fill_value=0.0).reindex(quantitative.index)
    panel = qualitative.groupby("city_id")["score"].mean().reindex(quantitative.index).fillna(0.0)
    score = methodology.quantitative_share * quantitative + methodology.qualitative_share * panel
    return score.rename("score").reset_index()
