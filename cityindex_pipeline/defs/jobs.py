"""The monthly job: every asset and check of one month partition."""

import dagster as dg

monthly_index_job = dg.define_asset_job(
    "monthly_index",
    selection=dg.AssetSelection.all(),
    description="One month end to end: registry, raw pulls, cleaning, indices, checks, publication.",
)
