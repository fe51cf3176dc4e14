"""Quality: the rules, the expectation suites and the gate catalogue that guard a month.

The package's API is its rules, plain functions each answering with a `Finding` (`findings.py`): on
the raw layer (`raw_rules.py`), the clean layer (`clean_rules.py`, and against the previous month and
the platforms' maxima `plausibility_rules.py`), the index (`index_rules.py`) and the month's settling
(`settling.py`). The completeness of a drop (`completeness.py`, by each platform's structure in
`pull_structure.py`), the Great Expectations suites (`suites.py`), the plausibility files
(`plausibility.py`) and the gate catalogue (`gates.py`) are imported as modules.
"""

from cityindex_pipeline.quality.clean_rules import (
    followers_present,
    hidden_follower_counts,
    interactions_consistent,
)
from cityindex_pipeline.quality.findings import SAMPLE_ROWS, Finding, finding_from, jsonable
from cityindex_pipeline.quality.index_rules import (
    platform_ranks_consistent,
    qualitative_complete,
    ranks_consistent,
    roster_complete,
    scores_in_range,
    weights_sum_to_one,
)
from cityindex_pipeline.quality.plausibility_rules import (
    TYPICAL_POST_COLUMNS,
    TYPICAL_POST_MIN_POSTS,
    account_counts_below_maxima,
    account_values,
    changes_plausible,
    follower_change_within_bounds,
    post_counts_below_maxima,
    typical_post_values,
)
from cityindex_pipeline.quality.raw_rules import (
    DOCUMENT_BAND,
    DOCUMENT_MIN_DIFFERENCE,
    accounts_covered,
    document_counts_plausible,
    error_bodies_recorded,
    unusable_reason,
    with_usability,
)
from cityindex_pipeline.quality.settling import DEFAULT_SETTLING_DAYS, month_settled, publishable_from

__all__ = [
    "DEFAULT_SETTLING_DAYS",
    "DOCUMENT_BAND",
    "DOCUMENT_MIN_DIFFERENCE",
    "SAMPLE_ROWS",
    "TYPICAL_POST_COLUMNS",
    "TYPICAL_POST_MIN_POSTS",
    "Finding",
    "account_counts_below_maxima",
    "account_values",
    "accounts_covered",
    "changes_plausible",
    "document_counts_plausible",
    "error_bodies_recorded",
    "finding_from",
    "follower_change_within_bounds",
    "followers_present",
    "hidden_follower_counts",
    "interactions_consistent",
    "jsonable",
    "month_settled",
    "platform_ranks_consistent",
    "post_counts_below_maxima",
    "publishable_from",
    "qualitative_complete",
    "ranks_consistent",
    "roster_complete",
    "scores_in_range",
    "typical_post_values",
    "unusable_reason",
    "weights_sum_to_one",
    "with_usability",
]
