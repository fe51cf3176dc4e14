"""The asset graph, one module per layer: registry -> raw -> clean -> index -> publish."""

from .clean import clean_account_metrics, clean_posts
from .index import (
    comprehensive_index,
    index_uncertainty,
    platform_index_assets,
    platform_indicators,
    platform_weights,
    qualitative_scores,
)
from .publish import published_index
from .raw import raw_assets
from .registry import account_registry, platform_reference
from .report import monthly_report

all_assets = [
    account_registry,
    platform_reference,
    *raw_assets,
    clean_posts,
    clean_account_metrics,
    platform_indicators,
    *platform_index_assets,
    platform_weights,
    qualitative_scores,
    comprehensive_index,
    index_uncertainty,
    published_index,
    monthly_report,
]

__all__ = ["all_assets"]
