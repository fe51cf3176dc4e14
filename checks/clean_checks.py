"""Checks on the clean layer: posts (a Great Expectations suite) and account metrics (a suite plus
cross-table and month-on-month rules). Each reads its own month from the warehouse."""

import dagster as dg
import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.core.platforms import PLATFORMS
from cityindex_pipeline.defs.resources import (
    ExpectationsResource,
    MethodologyVersion,
    MonthHistory,
    PlausibilityFiles,
    PublishOptions,
    WarehouseResource,
)
from cityindex_pipeline.parsing import PROFILE_ENDPOINTS
from cityindex_pipeline.quality import clean_rules, plausibility_rules, suites
from cityindex_pipeline.quality.gates import gates_of
from cityindex_pipeline.quality.history import READ_BY_ASSET, previous_month_computed

from .results import RUN_FIRST, check_result, specs


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(gates_of("clean_posts")))
def clean_posts_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    publish_options: PublishOptions,
    plausibility: PlausibilityFiles,
    expectations: ExpectationsResource,
):
    """clean.posts against its expectation suite (Great Expectations, in memory), and each count
    against its platform's plausible maximum."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        posts = store.read_month("clean.posts", month)
    findings = expectations.validate(posts, suites.posts_suite(month), "clean_posts")
    findings["counts_below_maxima"] = plausibility_rules.post_counts_below_maxima(
        posts, plausibility.load_bounds(), plausibility.load_known_jumps(month)
    )
    for gate in gates_of("clean_posts"):
        yield check_result("clean_posts", gate.name, findings[gate.name], publish_options)


@dg.multi_asset_check(op_tags=RUN_FIRST, specs=specs(gates_of("clean_account_metrics")))
def clean_account_metrics_checks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    publish_options: PublishOptions,
    methodology_version: MethodologyVersion,
    plausibility: PlausibilityFiles,
    history: MonthHistory,
    expectations: ExpectationsResource,
):
    """The previous month computed (unless this is the first month of coverage), account metrics well formed, followers present, interactions consistent with their parts, and
    plausible: against the previous month (followers within bounds, every change) and the maxima."""
    month = Month.from_partition_key(context.partition_key)
    with warehouse.held() as store:
        metrics = store.read_month("clean.account_metrics", month)
        posts = store.read_month("clean.posts", month)
        first_month = history.first
        # the previous month as clean_account_metrics reads it (none in the first month of coverage)
        previous = store.read_month_before("clean.account_metrics", month, first_month)
        previous_posts = store.read_month_before(
            "clean.posts", month, first_month, plausibility_rules.TYPICAL_POST_COLUMNS
        )
        bounds, jumps = plausibility.load_bounds(), plausibility.load_known_jumps(month)
        active = store.read_month("clean.registry_accounts", month).filter("active")
        channels = store.raw_documents(month, "youtube", [PROFILE_ENDPOINTS["youtube"]])  # hidden counts
        explained = pl.concat(
            [
                store.source_problems(str(pull["pull_id"])).select("platform", "account_handle")
                for pull in (store.latest_pull(month, platform) for platform in PLATFORMS)
                if pull is not None
            ]
            or [pl.DataFrame(schema={"platform": pl.String, "account_handle": pl.String})]
        ).drop_nulls()
        suite = expectations.validate(metrics, suites.account_metrics_suite(month), "clean_account_metrics")
        findings = {
            "previous_month_computed": previous_month_computed(
                month,
                first_month,
                store.month_row_counts(READ_BY_ASSET["clean_account_metrics"], month.previous()),
                READ_BY_ASSET["clean_account_metrics"],
            ),
            "metrics_well_formed": suite["metrics_well_formed"],
            "followers_present": clean_rules.followers_present(
                metrics, active, clean_rules.hidden_follower_counts(channels), explained
            ),
            "follower_change_within_bounds": plausibility_rules.follower_change_within_bounds(
                metrics, previous, bounds, jumps
            ),
            "interactions_consistent": clean_rules.interactions_consistent(
                metrics, posts, methodology_version.load().interactions
            ),
            "changes_plausible": plausibility_rules.changes_plausible(
                metrics, previous, posts, previous_posts, bounds, jumps
            ),
            "counts_below_maxima": plausibility_rules.account_counts_below_maxima(metrics, bounds, jumps),
        }
        for gate in gates_of("clean_account_metrics"):
            yield check_result("clean_account_metrics", gate.name, findings[gate.name], publish_options)


clean_checks = [clean_posts_checks, clean_account_metrics_checks]
