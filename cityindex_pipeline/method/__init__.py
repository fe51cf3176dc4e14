"""The index method: indicators, treatment, normalisation, weighting, aggregation and ranking.

The package's API is the method's steps, each a function from tables to a table, in the module an
auditor would look in: `indicators` (screen, indicators, treat, normalise), `weights` (the platforms' weights),
`aggregation` (aggregate, decompose), `index` (the platform and comprehensive index: rank, top ten, change)."""

from cityindex_pipeline.method.aggregation import (
    aggregate_platform,
    combine,
    decompose,
    weighted_mean,
)
from cityindex_pipeline.method.index import changes, comprehensive_index, platform_index, rank, top_ten
from cityindex_pipeline.method.indicators import (
    city_indicators,
    cover,
    interaction_weight_variants,
    normalise,
    platform_indicators,
    to_long,
    treat,
    treatment_summary,
)
from cityindex_pipeline.method.treatment import treatment_plans
from cityindex_pipeline.method.weights import platform_activity, platform_weights

__all__ = [
    "aggregate_platform",
    "changes",
    "city_indicators",
    "combine",
    "comprehensive_index",
    "cover",
    "decompose",
    "interaction_weight_variants",
    "normalise",
    "platform_activity",
    "platform_index",
    "platform_indicators",
    "platform_weights",
    "rank",
    "to_long",
    "top_ten",
    "treat",
    "treatment_plans",
    "treatment_summary",
    "weighted_mean",
]
