"""Data-quality checks that gate publication (the catalogue: cityindex_pipeline/quality/gates.py)."""

import warnings

import dagster as dg

# Checks partitioned by month are a preview feature of Dagster 1.13, used deliberately: each check
# evaluates the month it gates. Say so once here rather than on every load.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)

from .clean_checks import clean_checks  # noqa: E402
from .index_checks import index_checks  # noqa: E402
from .raw_checks import raw_checks  # noqa: E402
from .reference_checks import reference_layer_checks  # noqa: E402
from .release_checks import release_checks  # noqa: E402

all_checks = [*reference_layer_checks, raw_checks, *clean_checks, *index_checks, *release_checks]

__all__ = ["all_checks"]
