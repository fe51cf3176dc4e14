"""The methodology file, read once and typed: what the index computes is data, not code.

`methodology.yaml` is the current method. Every released version is archived, unchanged, as
`versions/<version>.yaml`, so a month published with an older method can be recomputed with it:
`load_methodology("0.1.0")`, or `CITYINDEX_METHODOLOGY_VERSION=0.1.0` for a whole run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.core.variables import METHODOLOGY_VERSION_VARIABLE, methodology_version_from_env
from cityindex_pipeline.method.panel import MISSING_PANEL_POLICIES, PanelSpec
from cityindex_pipeline.method.sobol import SENSITIVITY_METHODS, SensitivitySpec
from cityindex_pipeline.method.treatment import LOG_FORMS, TIES_AT_EXTREME, TREATMENT_STEPS, TreatmentSpec

DEFAULT_METHODOLOGY = Path(__file__).with_name("methodology.yaml")
VERSIONS_DIR = Path(__file__).with_name("versions")
VERSION_VARIABLE = METHODOLOGY_VERSION_VARIABLE  # names the version of a whole run
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
DIMENSIONS = ("generate", "interactive", "utilize")
NORMALISATIONS = ("min-max", "z-score", "rank", "distance-to-best")
AGGREGATIONS = ("arithmetic", "geometric")
MISSING_DIMENSIONS = ("zero", "reweight")
CONSTANT_INDICATORS = ("fifty", "drop")
TOP_TEN_ORDERS = ("ranked", "alphabetical")
PLATFORM_WEIGHT_INPUTS = ("reference", "monthly")
SILENT_ACCOUNT_RULES = ("missing", "zero")
INDICATORS = (
    "posts", "active_days", "video_share", "interactions", "interactions_per_post",
    "interactions_per_thousand_followers", "followers", "follower_growth_rate", "views",
)  # fmt: skip


class MethodologyError(ValueError):
    """The methodology file is inconsistent; the message says which entry."""


class UnknownMethodologyVersion(MethodologyError, LookupError):
    """No archived methodology has that version; the message lists the versions there are."""


@dataclass(frozen=True)
class Dimension:
    name: str
    weight: float
    indicators: dict[str, float]


@dataclass(frozen=True)
class Aggregation:
    """How scores combine: G, I and U into a platform index (`dimensions`), platform indices into the
    quantitative score (`platforms`). Geometric means are taken of (score + `geometric_shift`), the
    shift then taken off again, so that a score of 0 keeps the mean defined (and 0 to 100 maps to 0
    to 100)."""

    dimensions: str = "arithmetic"
    platforms: str = "arithmetic"
    geometric_shift: float = 1.0
    missing_dimension: str = "zero"
    """A dimension with no indicator value: scored 0 (`zero`, to 0.4.0), or missing, the platform
    index then the mean over the dimensions present, their weights re-scaled (`reweight`, COINr)."""


@dataclass(frozen=True)
class PlatformCoverage:
    start: Month | None = None
    """The first month the platform is computed (None: always)."""
    comprehensive: bool = True
    """False: the platform's own index is computed (monitored), but it has no weight in the
    comprehensive index."""


@dataclass(frozen=True)
class Coverage:
    """Which platforms and cities the index covers, month by month (the `coverage` section)."""

    platforms: dict[str, PlatformCoverage] = field(
        default_factory=lambda: {platform: PlatformCoverage() for platform in PLATFORMS}
    )
    cities_from: dict[str, Month] = field(default_factory=dict)
    """Cities that enter the index in a given month; every other city of the registry is in from the start."""
    cities_until: dict[str, Month] = field(default_factory=dict)
    """Cities whose last month in the index is the one given."""

    def platforms_in(self, month: Month) -> tuple[str, ...]:
        """Platforms whose own index is computed in `month`, in the pipeline's platform order."""
        return tuple(
            p for p in PLATFORMS if p in self.platforms and (self.platforms[p].start or month) <= month
        )

    def comprehensive_platforms_in(self, month: Month) -> tuple[str, ...]:
        """Platforms that enter the comprehensive index in `month` (and so get a weight)."""
        return tuple(p for p in self.platforms_in(month) if self.platforms[p].comprehensive)

    def city_in(self, city_id: str, month: Month) -> bool:
        start, end = self.cities_from.get(city_id), self.cities_until.get(city_id)
        return (start is None or start <= month) and (end is None or month <= end)


@dataclass(frozen=True)
class Methodology:
    version: str
    interactions: dict[str, tuple[str, ...]]
    views_measure: dict[str, str]
    dimensions: tuple[Dimension, ...]
    log_transform: frozenset[str]
    """Legacy (0.1.0, 0.2.0): indicators always log1p-transformed; empty when `treatment` is set."""
    normalisation: str
    platform_weight_criteria: dict[str, float]
    quantitative_share: float
    qualitative_share: float
    top_n: int
    uncertainty: dict[str, object]
    sha256: str
    treatment: TreatmentSpec | None = None
    """Conditional outlier treatment (0.3.0 on); None: the legacy unconditional `log_transform`."""
    aggregation: Aggregation = Aggregation()
    """Arithmetic at both levels unless the file says otherwise (always so before 0.4.0)."""
    qualitative: PanelSpec = field(default_factory=PanelSpec)
    normalisation_constant: str = "fifty"
    """An indicator with the same value for every city: 50 for all (`fifty`, to 0.4.0), or missing for
    all, its weight re-scaled over the dimension's other indicators (`drop`, COINr)."""
    top_ten_order: str = "ranked"
    """How a top ten is shown: `ranked`, or `alphabetical` (unordered: no ranks or scores shown)."""
    coverage: Coverage = field(default_factory=Coverage)
    """Platforms and cities month by month (before 0.4.0: all four platforms and every city, always)."""
    platform_weight_inputs: str = "reference"
    """Where the platform weight criteria come from: `monthly` (0.5.0 on: user scale from the series at
    the month, activity and relevance measured from the month's accounts) or `reference` (the fixed
    reference file)."""
    interaction_weights: dict[str, dict[str, float]] | None = None
    """Weight of each interaction part per platform (0.5.0 on); None: every part counts 1."""
    silent_accounts: str = "missing"
    """What the audience measure of a city whose accounts published nothing is: `zero` (0.5.0 on) or
    `missing` (re-weighted over its other Utilize indicators, before 0.5.0)."""
    sensitivity: SensitivitySpec | None = None
    """`uncertainty.sensitivity`: Sobol indices on Saltelli's design (0.5.0 on); None: the legacy
    Monte Carlo with one-at-a-time shares of the rank variance (0.2.0 to 0.4.0)."""
    """The panel's criteria, its minimum raters per city and the policy for a month without a panel
    (before 0.4.0: simulate)."""

    def indicator_weights(self) -> dict[str, tuple[str, float]]:
        """Indicator name to (dimension, weight within the dimension)."""
        return {name: (d.name, weight) for d in self.dimensions for name, weight in d.indicators.items()}


def available_versions() -> tuple[str, ...]:
    """Every archived (released) methodology version, oldest first."""
    names = [p.stem for p in VERSIONS_DIR.glob("*.yaml") if _VERSION.match(p.stem)]
    return tuple(sorted(names, key=lambda v: tuple(int(part) for part in v.split("."))))


def methodology_path(version: str | None = None) -> Path:
    """The file of an archived version; None means the one `CITYINDEX_METHODOLOGY_VERSION` names,
    or the current `methodology.yaml` when that is unset."""
    version = version or methodology_version_from_env()
    if version is None:
        return DEFAULT_METHODOLOGY
    if version not in available_versions():
        raise UnknownMethodologyVersion(
            f"no methodology version {version!r}; available: {', '.join(available_versions())}"
        )
    return VERSIONS_DIR / f"{version}.yaml"


def load_methodology(version: str | None = None, *, path: Path | None = None) -> Methodology:
    """The methodology of `version` (an archived release), of `path`, or the current one (None)."""
    methodology = _load(path or methodology_path(version))
    if version is not None and methodology.version != version:
        raise MethodologyError(f"{version}.yaml declares version {methodology.version!r}")
    return methodology


def methodology_of(recorded_version: str) -> Methodology:
    """The methodology that computed a month, by the version recorded with it; the current one when
    that version is not in the archive (a development version that was never released)."""
    try:
        return load_methodology(recorded_version)
    except UnknownMethodologyVersion:
        return load_methodology()


@cache
def _load(path: Path) -> Methodology:
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    try:
        methodology = Methodology(
            version=str(raw["version"]),
            interactions={p: tuple(parts) for p, parts in raw["interactions"].items()},
            views_measure=dict(raw["views_measure"]),
            dimensions=tuple(
                Dimension(name, float(spec["weight"]), {k: float(v) for k, v in spec["indicators"].items()})
                for name, spec in raw["dimensions"].items()
            ),
            log_transform=frozenset(raw.get("log_transform") or ()),
            normalisation=str(raw["normalisation"]),
            normalisation_constant=str(raw.get("normalisation_constant", "fifty")),
            platform_weight_criteria={k: float(v) for k, v in raw["platform_weight_criteria"].items()},
            quantitative_share=float(raw["quantitative_share"]),
            qualitative_share=float(raw["qualitative_share"]),
            top_n=int(raw["top_n"]),
            uncertainty={k: v for k, v in (raw.get("uncertainty") or {}).items() if k != "sensitivity"},
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            treatment=_treatment(raw.get("treatment")),
            aggregation=Aggregation(**(raw.get("aggregation") or {})),
            qualitative=_panel(raw.get("qualitative")),
            coverage=_coverage(raw.get("coverage")),
            top_ten_order=str((raw.get("ranks") or {}).get("top_ten_order", "ranked")),
            platform_weight_inputs=str(raw.get("platform_weight_inputs", "reference")),
            interaction_weights=_interaction_weights(raw.get("interaction_weights")),
            silent_accounts=str(raw.get("silent_accounts", "missing")),
            sensitivity=_sensitivity((raw.get("uncertainty") or {}).get("sensitivity")),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise MethodologyError(f"{path.name}: missing or malformed entry {error}") from None
    validate(methodology, path.name)
    return methodology


def _coverage(raw: dict | None) -> Coverage:
    if raw is None:
        return Coverage()

    def month(value: object) -> Month | None:
        return None if value is None else Month.parse(str(value))

    return Coverage(
        platforms={
            str(name): PlatformCoverage(
                start=month(spec.get("from")), comprehensive=bool(spec["comprehensive"])
            )
            for name, spec in raw["platforms"].items()
        },
        cities_from={str(c): month(m) for c, m in (raw.get("cities_from") or {}).items()},
        cities_until={str(c): month(m) for c, m in (raw.get("cities_until") or {}).items()},
    )


def _interaction_weights(raw: dict | None) -> dict[str, dict[str, float]] | None:
    if raw is None:
        return None
    return {
        str(platform): {str(part): float(w) for part, w in parts.items()} for platform, parts in raw.items()
    }


def _panel(raw: dict | None) -> PanelSpec:
    if raw is None:
        return PanelSpec()
    return PanelSpec(
        criteria=tuple(raw["criteria"]),
        min_raters=int(raw["min_raters"]),
        missing_panel=str(raw["missing_panel"]),
    )


def _treatment(raw: dict | None) -> TreatmentSpec | None:
    if raw is None:
        return None
    return TreatmentSpec(
        skewness=float(raw["skewness"]),
        kurtosis=float(raw["kurtosis"]),
        winsorise_max_points=int(raw["winsorise_max_points"]),
        steps=tuple(raw["steps"]),
        log=str(raw.get("log", "shifted_log1p")),
        ties_at_extreme=str(raw.get("ties_at_extreme", "refuse")),
    )


def _sensitivity(raw: dict | None) -> SensitivitySpec | None:
    if raw is None:
        return None
    unknown = sorted(set(raw) - {"method", "base_samples", "bootstrap", "confidence"})
    if unknown:
        raise MethodologyError(f"uncertainty.sensitivity: unknown key(s) {unknown}")
    defaults = SensitivitySpec()
    return SensitivitySpec(
        method=str(raw.get("method", defaults.method)),
        base_samples=int(raw.get("base_samples", defaults.base_samples)),
        bootstrap=int(raw.get("bootstrap", defaults.bootstrap)),
        confidence=float(raw.get("confidence", defaults.confidence)),
    )


def _validate_sensitivity(sensitivity: SensitivitySpec | None, name: str) -> None:
    if sensitivity is None:
        return
    if sensitivity.method not in SENSITIVITY_METHODS:
        raise MethodologyError(f"{name}: uncertainty.sensitivity.method must be one of {SENSITIVITY_METHODS}")
    n = sensitivity.base_samples
    if n < 16 or n & (n - 1):
        raise MethodologyError(
            f"{name}: uncertainty.sensitivity.base_samples must be a power of 2, 16 or more"
        )
    if sensitivity.bootstrap < 10:
        raise MethodologyError(f"{name}: uncertainty.sensitivity.bootstrap must be 10 resamples or more")
    if not 0 < sensitivity.confidence < 1:
        raise MethodologyError(f"{name}: uncertainty.sensitivity.confidence must be between 0 and 1")


def validate(methodology: Methodology, name: str = "methodology") -> None:
    def close_to_one(total: float) -> bool:
        return abs(total - 1.0) < 1e-9

    if set(methodology.interactions) != set(PLATFORMS) or set(methodology.views_measure) != set(PLATFORMS):
        raise MethodologyError(f"{name}: interactions and views_measure must name exactly {PLATFORMS}")
    if tuple(d.name for d in methodology.dimensions) != DIMENSIONS:
        raise MethodologyError(f"{name}: dimensions must be {DIMENSIONS} in that order")
    if not close_to_one(sum(d.weight for d in methodology.dimensions)):
        raise MethodologyError(f"{name}: dimension weights must sum to 1")
    for dimension in methodology.dimensions:
        if not close_to_one(sum(dimension.indicators.values())):
            raise MethodologyError(f"{name}: indicator weights of {dimension.name} must sum to 1")
        unknown = set(dimension.indicators) - set(INDICATORS)
        if unknown:
            raise MethodologyError(f"{name}: unknown indicator(s) {sorted(unknown)} in {dimension.name}")
    if methodology.treatment is not None:
        unknown_steps = [s for s in methodology.treatment.steps if s not in TREATMENT_STEPS]
        if unknown_steps or not methodology.treatment.steps:
            raise MethodologyError(f"{name}: treatment steps must be some of {TREATMENT_STEPS}, in order")
        if methodology.log_transform:
            raise MethodologyError(f"{name}: give either treatment or log_transform, not both")
        if methodology.treatment.winsorise_max_points < 0:
            raise MethodologyError(f"{name}: winsorise_max_points must be 0 or more")
        if methodology.treatment.log not in LOG_FORMS:
            raise MethodologyError(f"{name}: treatment.log must be one of {LOG_FORMS}")
        if methodology.treatment.ties_at_extreme not in TIES_AT_EXTREME:
            raise MethodologyError(f"{name}: treatment.ties_at_extreme must be one of {TIES_AT_EXTREME}")
    aggregation = methodology.aggregation
    if aggregation.dimensions not in AGGREGATIONS or aggregation.platforms not in AGGREGATIONS:
        raise MethodologyError(
            f"{name}: aggregation of dimensions and platforms must be one of {AGGREGATIONS}"
        )
    if aggregation.missing_dimension not in MISSING_DIMENSIONS:
        raise MethodologyError(f"{name}: aggregation.missing_dimension must be one of {MISSING_DIMENSIONS}")
    if methodology.normalisation_constant not in CONSTANT_INDICATORS:
        raise MethodologyError(f"{name}: normalisation_constant must be one of {CONSTANT_INDICATORS}")
    if not aggregation.geometric_shift > 0:
        raise MethodologyError(
            f"{name}: aggregation.geometric_shift must be positive (it keeps ln defined at 0)"
        )
    unknown_platforms = sorted(set(methodology.coverage.platforms) - set(PLATFORMS))
    if unknown_platforms:
        raise MethodologyError(
            f"{name}: coverage names platform(s) {unknown_platforms} the pipeline cannot pull; it pulls {PLATFORMS}"
        )
    if not any(p.comprehensive for p in methodology.coverage.platforms.values()):
        raise MethodologyError(
            f"{name}: coverage must let at least one platform into the comprehensive index"
        )
    if methodology.top_ten_order not in TOP_TEN_ORDERS:
        raise MethodologyError(f"{name}: ranks.top_ten_order must be one of {TOP_TEN_ORDERS}")
    panel = methodology.qualitative
    if panel.missing_panel not in MISSING_PANEL_POLICIES:
        raise MethodologyError(f"{name}: qualitative.missing_panel must be one of {MISSING_PANEL_POLICIES}")
    if not panel.criteria or len(set(panel.criteria)) != len(panel.criteria) or panel.min_raters < 1:
        raise MethodologyError(f"{name}: qualitative needs distinct criteria and min_raters of 1 or more")
    if methodology.normalisation not in NORMALISATIONS:
        raise MethodologyError(f"{name}: normalisation must be one of {NORMALISATIONS}")
    if not close_to_one(methodology.quantitative_share + methodology.qualitative_share):
        raise MethodologyError(f"{name}: quantitative and qualitative shares must sum to 1")
    if methodology.platform_weight_inputs not in PLATFORM_WEIGHT_INPUTS:
        raise MethodologyError(f"{name}: platform_weight_inputs must be one of {PLATFORM_WEIGHT_INPUTS}")
    if methodology.silent_accounts not in SILENT_ACCOUNT_RULES:
        raise MethodologyError(f"{name}: silent_accounts must be one of {SILENT_ACCOUNT_RULES}")
    _validate_interaction_weights(methodology, name)
    if not close_to_one(sum(methodology.platform_weight_criteria.values())):
        raise MethodologyError(f"{name}: platform weight criteria must sum to 1")
    _validate_sensitivity(methodology.sensitivity, name)


def _validate_interaction_weights(methodology: Methodology, name: str) -> None:
    """Each platform weighs exactly the parts it counts, each weight positive."""
    weights = methodology.interaction_weights
    if weights is None:
        return
    for platform in PLATFORMS:
        parts = set(methodology.interactions[platform])
        given = weights.get(platform)
        if given is None or set(given) != parts:
            raise MethodologyError(
                f"{name}: interaction_weights.{platform} must weigh exactly its interaction parts "
                f"{sorted(parts)}, got {sorted(given or {})}"
            )
        bad = sorted(part for part, weight in given.items() if not weight > 0)
        if bad:
            raise MethodologyError(f"{name}: interaction_weights.{platform}: {bad} must be positive")
    unknown = sorted(set(weights) - set(PLATFORMS))
    if unknown:
        raise MethodologyError(f"{name}: interaction_weights names unknown platform(s) {unknown}")
