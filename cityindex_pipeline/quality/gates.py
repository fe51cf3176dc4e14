"""The publication gate: which checks guard a month, how severe each is, and whether a run may publish.

Every check of `GATES` runs with its asset, reads its month from the warehouse, and reports a
result. ERROR blocks publication; WARN is shown and recorded with the publication but does not block.
A data engineer may publish over failed ERROR checks only with an explicit override and its reason
(`cityindex materialize --override-errors "why"`, or the `publish_options` resource in run config):
the failed checks are then reported as WARN with the override in their metadata, so Dagster lets the
run go on, and the publication records which checks were overridden and why.

`decide` is the rule `published_index` applies to each check's latest result for the month, counted
only if it was evaluated against the latest materialisation of its asset (`check_results.py`): the
checks may have run in the same run as the publication or in earlier runs of a backfill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from cityindex_pipeline.core.platforms import PLATFORMS

if TYPE_CHECKING:
    from cityindex_pipeline.quality.findings import Finding


class Severity(StrEnum):
    ERROR = "ERROR"
    WARN = "WARN"


@dataclass(frozen=True)
class Gate:
    """One check: the asset it is attached to, its name, its severity, what it guards, what to do."""

    asset: str
    name: str
    severity: Severity
    guards: str
    fix: str = ""
    engine: str = "polars"
    """`great_expectations` for the column-level suites, `polars` for the rules of this package."""

    @property
    def key(self) -> str:
        return f"{self.asset}:{self.name}"


_RAW = [
    gate
    for platform in PLATFORMS
    for gate in (
        Gate(
            f"raw_{platform}",
            "accounts_covered",
            Severity.ERROR,
            "every active account has usable documents for the month, or a problem recorded by the pull",
        ),
        Gate(
            f"raw_{platform}",
            "no_error_bodies_as_data",
            Severity.ERROR,
            "a stored error response is recorded in raw.source_problems, never silently taken as data",
        ),
        Gate(
            f"raw_{platform}",
            "drop_complete",
            Severity.ERROR,
            "every page a stored page points to is stored, every post of the month listed has its insights "
            "(YouTube: its videos entry), every active account has each endpoint it needs",
            "deliver the missing pages and documents named (or pull the accounts again), then re-run the month",
        ),
        Gate(
            f"raw_{platform}",
            "document_counts_plausible",
            Severity.WARN,
            "usable documents per account within 0.25x-8x of the previous month",
        ),
    )
]

GATES: tuple[Gate, ...] = (
    Gate("account_registry", "registry_consistent", Severity.ERROR,
         "unique cities; every account on a known platform, of a city on the roster, its handle and "
         "platform id registered once per platform; one registry version in the month"),
    Gate("platform_reference", "reference_complete", Severity.ERROR,
         "one row per platform, every user, time and relevance figure a positive number"),
    Gate("qualitative_scores", "panel_well_formed", Severity.ERROR,
         "one score per city, rater and criterion, in [0, 100], labelled panel or simulated"),
    *_RAW,
    Gate("clean_posts", "posts_unique", Severity.ERROR, "one row per (platform, post id)",
         "duplicated posts escaped deduplication: re-materialise clean_posts", "great_expectations"),
    Gate("clean_posts", "post_keys_not_null", Severity.ERROR, "keys and published time present",
         "a parser produced a post without its keys: fix the parser, re-materialise clean_posts",
         "great_expectations"),
    Gate("clean_posts", "counts_not_negative", Severity.ERROR, "likes, comments, shares, views... >= 0 (null = withheld)",
         "a negative count came from the source or a parser: quarantine the document and re-run",
         "great_expectations"),
    Gate("clean_posts", "published_in_month", Severity.ERROR, "published inside the month, Beijing time",
         "posts outside the month must be quarantined: re-materialise clean_posts", "great_expectations"),
    Gate("clean_posts", "content_type_known", Severity.ERROR, "content type in text, photo, video, album, link, other",
         "map the platform's new content type onto the known set in the parser", "great_expectations"),
    Gate("clean_posts", "counts_below_maxima", Severity.ERROR,
         "every count of a post at most its platform's plausible maximum, unless flagged as a known jump"),
    Gate("clean_account_metrics", "previous_month_computed", Severity.ERROR,
         "the first month of coverage (CITYINDEX_FIRST_MONTH) reads no previous month; a later month "
         "only with the previous month's account metrics computed; a month before the first is "
         "refused: a month's numbers must not depend on the order months were computed in",
         "compute the previous month first (or a backfill from the first month of coverage), or set "
         "CITYINDEX_FIRST_MONTH to your first month of data"),
    Gate("clean_account_metrics", "metrics_well_formed", Severity.ERROR,
         "one row per account, counts >= 0, active days within the month",
         "re-materialise clean_account_metrics for the month", "great_expectations"),
    Gate("clean_account_metrics", "followers_present", Severity.ERROR,
         "followers for every active account, unless the platform hides them"),
    Gate("clean_account_metrics", "follower_change_within_bounds", Severity.ERROR,
         "no account loses more than half its followers unless flagged as a known jump"),
    Gate("clean_account_metrics", "interactions_consistent", Severity.ERROR,
         "interactions = sum of their parts; interactions per post = interactions / posts"),
    Gate("clean_account_metrics", "changes_plausible", Severity.ERROR,
         "followers, posts, interactions, views and exposures (totals and typical post) within their "
         "platform's rise factor and fall bound of the previous month, unless flagged as a known jump"),
    Gate("clean_account_metrics", "counts_below_maxima", Severity.ERROR,
         "every account-month total at most its platform's plausible maximum, unless flagged as a known jump"),
    Gate("platform_indicators", "indicators_well_formed", Severity.ERROR,
         "one row per city, platform and indicator, a positive weight, treated values inside the "
         "platform's range and normalised values in [0, 100] where known"),
    Gate("platform_weights", "weights_sum_to_one", Severity.ERROR, "platform weights sum to 1, all positive"),
    Gate("platform_weights", "platform_weights_valid", Severity.ERROR, "four weights in (0, 1] summing to 1",
         "check platform_reference.csv and the methodology's weight criteria", "great_expectations"),
    *(
        Gate(f"platform_index_{platform}", "platform_ranks_follow_scores", Severity.ERROR,
             "platform ranks are competition ranks of the scores; top ten = ranks 1-10")
        for platform in PLATFORMS
    ),
    Gate("comprehensive_index", "qualitative_scores_complete", Severity.ERROR,
         "every city scored on every criterion, in [0, 100]; the index uses the panel mean"),
    Gate("comprehensive_index", "one_row_per_city", Severity.ERROR, "one row per city of the roster"),
    Gate("comprehensive_index", "scores_between_0_and_100", Severity.ERROR, "scores in [0, 100]"),
    Gate("comprehensive_index", "ranks_follow_scores", Severity.ERROR, "ranks are competition ranks of the scores"),
    Gate("comprehensive_index", "index_well_formed", Severity.ERROR,
         "row count = roster, unique cities, scores in [0, 100], keys present",
         "re-materialise the index of the month from account_registry", "great_expectations"),
    Gate("comprehensive_index", "month_has_settled", Severity.ERROR,
         "the month has closed (Beijing time) and its settling days have passed"),
    Gate("comprehensive_index", "previous_month_computed", Severity.ERROR,
         "a month after the first month of coverage only with the previous month's index computed "
         "(its score and rank changes are published); the same rule as the account metrics' check",
         "compute the previous month first (or a backfill from the first month of coverage), or set "
         "CITYINDEX_FIRST_MONTH to your first month of data"),
    Gate("comprehensive_index", "built_from_previous_month", Severity.ERROR,
         "the month's follower growth, score and rank changes and carried panel were read from one "
         "version of the previous month, the one it holds now; published_index checks it again as it publishes"),
    Gate("index_uncertainty", "rank_intervals_well_formed", Severity.ERROR,
         "one row per city, every rank in [1, cities], 5 % rank <= median <= 95 % rank, draws made"),
)  # fmt: skip
"""Every check that guards publication, in the order of the graph."""

RELEASE_CHECKS: tuple[Gate, ...] = (
    Gate("published_index", "publication_intact", Severity.ERROR,
         "the month's latest version: its export matches its manifest, the manifest the one published, "
         "the numbers of the export and of publish.index the published digest (a failure stops the report)"),
    Gate("published_index", "months_published_on_time", Severity.WARN,
         "no gap in the published history: every month from the first month of coverage to the latest "
         "published one, past its deadline (the end of the schedule's day of the next month, Beijing "
         "time), has a publication; names the late months (each month's evaluation covers the whole history)"),
    Gate("monthly_report", "report_complete", Severity.ERROR,
         "every chart of the report an image of its own, not empty, and inlined in report.html"),
    Gate("monthly_report", "report_has_cjk_font", Severity.WARN,
         "the charts drawn with a font that has Chinese glyphs (else cities are named in English only)"),
)  # fmt: skip
"""Checks of what a month releases, after it is written: they cannot hold back the publication they
check (it is never changed), so `decide` does not wait for them; a failed ERROR one stops what
follows it (the report) and marks the month."""

BY_KEY: dict[str, Gate] = {gate.key: gate for gate in (*GATES, *RELEASE_CHECKS)}


def gates_of(asset: str) -> list[Gate]:
    """The checks of the asset, whether they gate publication (`GATES`) or follow it (`RELEASE_CHECKS`)."""
    return [gate for gate in (*GATES, *RELEASE_CHECKS) if gate.asset == asset]


def gate(asset: str, name: str) -> Gate:
    return BY_KEY[f"{asset}:{name}"]


@dataclass(frozen=True)
class CheckOutcome:
    """A check's latest result for a month, as the gate and the report read it back from Dagster."""

    key: str
    """`asset:check_name`, as `Gate.key`."""
    passed: bool
    overridden: bool = False
    detail: str = ""
    severity: str = ""
    """The severity reported (WARN for an overridden ERROR check)."""
    run_id: str = ""
    current: bool = True
    """Evaluated against the latest materialisation of its asset for the month; a stale result
    (the asset was materialised again after it) does not count for the gate."""
    in_flight: bool = False
    """Planned or running in a run that has not finished (`run_id`): no result to count yet."""

    @property
    def asset(self) -> str:
        return self.key.partition(":")[0]

    @property
    def name(self) -> str:
        return self.key.partition(":")[2]


@dataclass(frozen=True)
class Verdict:
    publishable: bool
    failed: list[str] = field(default_factory=list)
    """ERROR checks that failed and were not overridden."""
    missing: list[str] = field(default_factory=list)
    """ERROR checks without a result on the month's current data."""
    overridden: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """WARN checks that failed (shown and recorded, not blocking)."""
    details: dict[str, str] = field(default_factory=dict)
    running: dict[str, str] = field(default_factory=dict)
    """ERROR checks being evaluated by a run that has not finished, with that run's id."""

    def message(self) -> str:
        """What stopped the month and what to do, for the run's failure and the CLI."""
        lines = []
        if self.failed:
            lines.append(f"{len(self.failed)} ERROR check(s) failed: " + ", ".join(self.failed))
            lines += [f"  {key}: {self.details.get(key, '')}" for key in self.failed]
            lines.append(
                "Fix the data and re-run the month, or publish over the errors with "
                '`cityindex materialize --month YYYY-MM --override-errors "reason"`.'
            )
        if self.running:
            runs = sorted(set(self.running.values()))
            lines.append(
                f"{len(self.running)} ERROR check(s) are still being evaluated by run(s) "
                + ", ".join(runs)
                + ": "
                + ", ".join(sorted(self.running)[:10])
                + (" ..." if len(self.running) > 10 else "")
            )
            lines.append(
                "Another run of the month is in progress: let it finish (it publishes the month if its "
                "checks pass), then materialise published_index again if it did not."
            )
        if self.missing:
            lines.append(
                f"{len(self.missing)} ERROR check(s) have no result on the month's current data: "
                + ", ".join(self.missing[:10])
                + (" ..." if len(self.missing) > 10 else "")
            )
            lines.append(
                "Each check must have run after its asset's latest materialisation of the month: "
                "materialise the month with its checks (the monthly_index job, or a backfill of every asset)."
            )
        return "\n".join(lines)


def evaluated_now(key: str, finding: Finding, override: str) -> CheckOutcome:
    """A gate evaluated by the publication itself, on what it publishes (it replaces the check's
    recorded result): overridden like a check, when it failed and an override was given."""
    parts = [f"{finding.failed_rows} failing row(s)." if finding.failed_rows else "", finding.detail]
    if not finding.passed and finding.fix:
        parts.append(f"Fix: {finding.fix}")
    return CheckOutcome(
        key=key,
        passed=finding.passed,
        overridden=not finding.passed and bool(override.strip()),
        detail=" ".join(part for part in parts if part),
    )


def decide(outcomes: list[CheckOutcome], gates: tuple[Gate, ...] = GATES) -> Verdict:
    """May the month be published? Every ERROR gate must have a current result that passed, or
    was overridden; a stale result counts as missing."""
    seen = {outcome.key: outcome for outcome in outcomes if outcome.current}
    failed, missing, overridden, warnings = [], [], [], []
    running: dict[str, str] = {}
    for g in gates:
        outcome = seen.get(g.key)
        if outcome is not None and outcome.in_flight:
            if g.severity is Severity.ERROR:
                running[g.key] = outcome.run_id
            continue
        if outcome is None:
            if g.severity is Severity.ERROR:
                missing.append(g.key)
            continue
        if outcome.passed:
            continue
        if g.severity is Severity.WARN:
            warnings.append(g.key)
        elif outcome.overridden:
            overridden.append(g.key)
        else:
            failed.append(g.key)
    return Verdict(
        publishable=not failed and not missing and not running,
        failed=failed,
        missing=missing,
        overridden=overridden,
        warnings=warnings,
        details={key: seen[key].detail for key in failed + overridden + warnings},
        running=running,
    )
