"""The idx.* and publish.* tables: the index computed from the clean tables, and its published versions."""

from __future__ import annotations

from cityindex_pipeline.warehouse.columns import (
    BIGINT,
    BLOB,
    BOOLEAN,
    CARRIED_FROM,
    CITY_ID,
    CRITERION,
    DATE,
    DOUBLE,
    INTEGER,
    METHODOLOGY_VERSION,
    MONTH,
    NAME_EN,
    NAME_ZH,
    PANEL_SCORE,
    PANEL_SOURCE,
    PLATFORM,
    PREVIOUS_RANK,
    PREVIOUS_SCORE,
    RANK,
    RANK_CHANGE,
    RATER,
    REGISTRY_VERSION,
    RUN_ID,
    SCORE_CHANGE,
    TIMESTAMPTZ,
    USERS_BASIS,
    VARCHAR,
    VARCHAR_LIST,
    VERSION,
    Table,
)

SOBOL = "methodology 0.5.0 on; null in one-at-a-time rows"
ONE_AT_A_TIME = "methodology 0.2.0 to 0.4.0; null in Sobol rows"
COMPREHENSIVE_SCORE = (
    "comprehensive index, 0-100: quantitative_share × quantitative + qualitative_share × qualitative"
)
QUANTITATIVE = "the platform indices' weighted sum (a platform without an account or index adds 0), 0-100"
QUALITATIVE = "mean of the panel's scores of the city over raters and criteria, 0-100"
MEDIAN_RANK = "median rank over the uncertainty analysis's runs"
RANK_P05 = "5th percentile of the rank over the uncertainty analysis's runs: the best end of the interval"
RANK_P95 = "95th percentile of the rank over the uncertainty analysis's runs: the worst end of the interval"

# fmt: off
INDEX_TABLES: dict[str, Table] = {
    "idx.platform_reference": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("platform", doc=PLATFORM),
        DOUBLE("monthly_active_users_millions", doc="fixed monthly active users, millions, from "
               "platform_reference.csv (the weights of methodology 0.4.0 and earlier)"),
        DOUBLE("daily_minutes_per_user", doc="fixed minutes per user per day, from platform_reference.csv "
               "(activity up to 0.4.0)"),
        DOUBLE("relevance", doc="fixed relevance score 1-10, invented, from platform_reference.csv "
               "(relevance up to 0.4.0)"),
        VARCHAR("reference_note", doc="where platform_reference.csv's figures come from, as it says"),
        DOUBLE("monthly_active_users_month", null=True, doc="monthly active users in the month, millions, "
               "from the platform_users.csv series (methodology §7); null in rows written before the series"),
        VARCHAR("users_basis", null=True, doc=USERS_BASIS),
    ),
    "idx.platform_weights": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("platform", doc=PLATFORM),
        DOUBLE("user_scale_share", doc="the platform's share of the weighted platforms' user scale, 0-1"),
        DOUBLE("activity_share", doc="its share of activity, 0-1: mean active days from 0.5.0, minutes per "
               "day before"),
        DOUBLE("relevance_share", doc="its share of relevance, 0-1: from 0.5.0 the mean of its shares of "
               "interactions and views, before the fixed score"),
        DOUBLE("weight", doc="the platform's weight in the comprehensive index: the criteria's weighted "
               "mean of its three shares (weights sum to 1)"),
        VARCHAR("methodology_version", doc=METHODOLOGY_VERSION),
        DOUBLE("user_scale_millions", null=True, doc="the month's monthly active users, millions, used for "
               "user scale; null under methodology 0.4.0 and earlier"),
        VARCHAR("users_basis", null=True, doc=USERS_BASIS),
        BIGINT("accounts", null=True, doc="the month's active accounts on the platform (clean.account_metrics); "
               "null under 0.4.0 and earlier"),
        DOUBLE("mean_active_days", null=True, doc="mean active days over those accounts, a silent one "
               "counting 0; null under 0.4.0 and earlier"),
        BIGINT("interactions", null=True, doc="their interactions, the plain clean counts; null under 0.4.0 "
               "and earlier"),
        BIGINT("views", null=True, doc="their views measure (exposures; YouTube: plays); null under 0.4.0 "
               "and earlier"),
    ),
    "idx.platform_indicators": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("platform", doc=PLATFORM),
        VARCHAR("city_id", doc=CITY_ID),
        VARCHAR("dimension", doc="the dimension the indicator belongs to: generate, interactive or utilize"),
        VARCHAR("indicator", doc="one of the nine indicators of methodology §3 (posts, active_days, ...)"),
        DOUBLE("indicator_weight", doc="the indicator's weight within its dimension"),
        DOUBLE("raw_value", null=True, doc="the city's value from its accounts' month (methodology §3); null "
               "when undefined (0 / 0) or the platform withheld the figure"),
        VARCHAR("transform", doc="outlier treatment kept for the indicator: none, winsorised or log (log1p "
                "under 0.1.0-0.2.0)"),
        DOUBLE("treated_value", null=True, doc="raw_value after the treatment; null when raw_value is"),
        DOUBLE("platform_min", null=True, doc="smallest treated value over the platform's cities; null when "
               "no city has one"),
        DOUBLE("platform_max", null=True, doc="largest treated value over the platform's cities; null when "
               "no city has one"),
        DOUBLE("normalised", null=True, doc="treated value scaled to 0-100 by the methodology's normalisation; "
               "null when missing, or the indicator is constant (dropped, from 0.5.0)"),
        INTEGER("accounts", doc="the city's active accounts on the platform"),
        VARCHAR("methodology_version", doc=METHODOLOGY_VERSION),
        DOUBLE("skewness", null=True, doc="skewness of the raw values (Excel SKEW); null with fewer than "
               "three values, all equal, or under 0.1.0-0.2.0"),
        DOUBLE("kurtosis", null=True, doc="excess kurtosis of the raw values (Excel KURT); null with fewer "
               "than four values, all equal, or under 0.1.0-0.2.0"),
        INTEGER("winsorised_points", null=True, doc="cities whose value the kept treatment moved (0 when the "
                "log is kept); null under 0.1.0-0.2.0"),
        DOUBLE("treated_skewness", null=True, doc="skewness of the treated values; null as skewness"),
        DOUBLE("treated_kurtosis", null=True, doc="kurtosis of the treated values; null as kurtosis"),
        BOOLEAN("winsorised", null=True, doc="whether this city's value was winsorised; null in rows written "
                "before the column existed"),
    ),
    "idx.platform_index": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("platform", doc=PLATFORM),
        VARCHAR("city_id", doc=CITY_ID),
        DOUBLE("generate_score", null=True, doc="Generate dimension, 0-100: weighted mean of its normalised "
               "indicators present; null when it has none (re-weighted away, 0.5.0 on)"),
        DOUBLE("interactive_score", null=True, doc="Interactive dimension, 0-100, as generate_score"),
        DOUBLE("utilize_score", null=True, doc="Utilize dimension, 0-100, as generate_score"),
        DOUBLE("score", doc="the city's index on the platform, 0-100, from its dimension scores (methodology §6)"),
        INTEGER("rank", doc=f"{RANK}, on the platform"),
        BOOLEAN("in_top_ten", doc="whether the city ranks 10 or better on the platform (ties included)"),
        INTEGER("previous_rank", null=True, doc=PREVIOUS_RANK),
        INTEGER("rank_change", null=True, doc=RANK_CHANGE),
        VARCHAR("methodology_version", doc=METHODOLOGY_VERSION),
        DOUBLE("previous_score", null=True, doc=PREVIOUS_SCORE),
        DOUBLE("score_change", null=True, doc=SCORE_CHANGE),
    ),
    "idx.qualitative_scores": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("city_id", doc=CITY_ID),
        VARCHAR("rater", doc=RATER), VARCHAR("criterion", doc=CRITERION), DOUBLE("score", doc=PANEL_SCORE),
        VARCHAR("source", doc=PANEL_SOURCE), DATE("carried_from", null=True, doc=CARRIED_FROM),
    ),
    "idx.comprehensive_index": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("city_id", doc=CITY_ID),
        DOUBLE("quantitative_score", doc=QUANTITATIVE), DOUBLE("qualitative_score", doc=QUALITATIVE),
        DOUBLE("quantitative_share", doc="weight of the quantitative score in the index, from the methodology (0.8)"),
        DOUBLE("qualitative_share", doc="weight of the qualitative score in the index, from the methodology (0.2)"),
        DOUBLE("score", doc=COMPREHENSIVE_SCORE), INTEGER("rank", doc=RANK),
        INTEGER("platforms_present", doc="platforms on which the city has an index this month"),
        DOUBLE("previous_score", null=True, doc=PREVIOUS_SCORE),
        INTEGER("previous_rank", null=True, doc=PREVIOUS_RANK),
        DOUBLE("score_change", null=True, doc=SCORE_CHANGE), INTEGER("rank_change", null=True, doc=RANK_CHANGE),
        VARCHAR("methodology_version", doc=METHODOLOGY_VERSION),
        BOOLEAN("in_top_ten", null=True, doc="whether the city ranks 10 or better (ties included); null in "
                "rows written before the column existed"),
    ),
    "idx.index_uncertainty": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID), VARCHAR("city_id", doc=CITY_ID),
        INTEGER("nominal_rank", doc="the published rank: every choice at its nominal value"),
        DOUBLE("median_rank", doc=MEDIAN_RANK), INTEGER("rank_p05", doc=RANK_P05),
        INTEGER("rank_p95", doc=RANK_P95),
        BOOLEAN("robust", doc="whether the 5-95 % interval spans at most robust_interval places (10)"),
        INTEGER("draws", doc="runs the intervals are taken from (Sobol: 2 × base_samples; before: the "
                "Monte Carlo draws)"),
        BIGINT("seed", doc="seed of the draws, from the methodology (20240901)"),
        VARCHAR("methodology_version", doc=METHODOLOGY_VERSION),
    ),
    "idx.uncertainty_sensitivity": Table(
        DATE("month", doc=MONTH), VARCHAR("run_id", doc=RUN_ID),
        VARCHAR("choice", doc="the method choice (factor) varied: platform_weight_criteria, normalisation, "
                "qualitative_share..."),
        DOUBLE("mean_rank_variance_alone", null=True, doc="mean rank variance over cities when this choice "
               f"alone varies ({ONE_AT_A_TIME})"),
        DOUBLE("share_of_total_variance", null=True, doc="mean_rank_variance_alone over the mean rank "
               f"variance with every choice varying ({ONE_AT_A_TIME})"),
        DOUBLE("mean_abs_rank_shift", null=True, doc="mean absolute shift from the nominal rank when this "
               f"choice alone varies, places ({ONE_AT_A_TIME})"),
        VARCHAR("methodology_version", doc=METHODOLOGY_VERSION),
        DOUBLE("first_order", null=True, doc="Sobol first-order index: share of the rank variance the choice "
               f"causes alone ({SOBOL})"),
        DOUBLE("first_order_low", null=True, doc=f"low end of first_order's bootstrap interval ({SOBOL})"),
        DOUBLE("first_order_high", null=True, doc=f"high end of first_order's bootstrap interval ({SOBOL})"),
        DOUBLE("total_order", null=True, doc="Sobol total index: share of the rank variance the choice causes "
               f"alone and with others ({SOBOL})"),
        DOUBLE("total_order_low", null=True, doc=f"low end of total_order's bootstrap interval ({SOBOL})"),
        DOUBLE("total_order_high", null=True, doc=f"high end of total_order's bootstrap interval ({SOBOL})"),
        DOUBLE("interaction_share", null=True, doc="1 − Σ first_order: the share due to interactions between "
               f"choices, the same on every row ({SOBOL})"),
        DOUBLE("mean_rank_variance", null=True, doc="Σ over cities of the rank variance / cities, every "
               f"choice varying ({SOBOL})"),
        INTEGER("model_runs", null=True, doc=f"index recomputations: base_samples × (factors + 2) ({SOBOL})"),
        INTEGER("base_samples", null=True, doc=f"base rows N of Saltelli's design ({SOBOL})"),
        INTEGER("bootstrap", null=True, doc=f"bootstrap resamples behind the intervals ({SOBOL})"),
        DOUBLE("confidence", null=True, doc=f"confidence level of the bootstrap intervals, e.g. 0.95 ({SOBOL})"),
    ),
    "publish.publications": Table(
        DATE("month", doc=MONTH), INTEGER("version", doc=VERSION),
        VARCHAR("run_id", doc="id of the Dagster run that published the version"),
        TIMESTAMPTZ("published_at", doc="when the version was committed, UTC"),
        VARCHAR("content_sha256", doc="sha256 of the published numbers at full precision (CSV of the "
                "content columns sorted by city), independent of run and time"),
        VARCHAR("methodology_version", doc="version of the methodology the version was computed with"),
        VARCHAR("registry_version", doc=REGISTRY_VERSION),
        VARCHAR_LIST("pull_ids", doc="the pulls (raw.pulls) the version was computed from"),
        INTEGER("cities", doc="cities in the published index: the rows of publish.index of the version"),
        VARCHAR("reason", null=True, doc="why the version was published (first publication, re-run: numbers "
                "changed, ...); null in the oldest records"),
        VARCHAR("code_version", null=True, doc="the code that computed it: cityindex <version>, commit <sha> "
                "(+uncommitted for a dirty checkout)"),
        VARCHAR("inputs_sha256", null=True, doc="sha256 over every raw document's sha256 and the panel's "
                "scores: what the numbers came from"),
        INTEGER("raw_documents", null=True, doc="raw documents the version was computed from"),
        VARCHAR("qualitative_sha256", null=True, doc="sha256 of the panel's scores used (publish.qualitative_inputs)"),
        VARCHAR("checks", null=True, doc="JSON: how many ERROR checks passed in the run (passed) and what "
                "changed since the latest version (changed)"),
        VARCHAR("warnings", null=True, doc="JSON list of the WARN checks that failed in the run, by key"),
        VARCHAR("override_reason", null=True, doc="the reason given for publishing over failed checks; null "
                "without an override"),
        VARCHAR_LIST("overridden_checks", null=True, doc="the failed ERROR checks the override published over"),
        VARCHAR("export_dir", null=True, doc="the version's export, <YYYY-MM>/v<N> under $CITYINDEX_HOME/exports"),
        VARCHAR("manifest_sha256", null=True, doc="sha256 of the export's manifest.json"),
        INTEGER("previous_version", null=True, doc="the previous month's published version whose rows the "
                "changes used; null when it is unpublished or its rows are of none of its versions"),
        VARCHAR("previous_inputs_sha256", null=True, doc="sha256 of the previous month's rows used "
                "(publish.previous_inputs); null for a first month of coverage or a version from before they were pinned"),
        primary_key=("month", "version"),
    ),
    "publish.qualitative_inputs": Table(
        DATE("month", doc=MONTH), INTEGER("version", doc=VERSION), VARCHAR("run_id", doc=RUN_ID),
        VARCHAR("city_id", doc=CITY_ID), VARCHAR("rater", doc=RATER), VARCHAR("criterion", doc=CRITERION),
        DOUBLE("score", doc=PANEL_SCORE), VARCHAR("source", doc=PANEL_SOURCE),
        DATE("carried_from", null=True, doc=CARRIED_FROM),
    ),
    "publish.previous_inputs": Table(
        DATE("month", doc=MONTH), INTEGER("version", doc=VERSION), VARCHAR("run_id", doc=RUN_ID),
        DATE("previous_month", doc="the month before, whose rows the version's changes were computed against"),
        VARCHAR("source_table", doc="the table of the previous month the rows are from (clean.account_metrics, "
                "idx.platform_index, ...)"),
        INTEGER("rows", doc="rows of that table pinned"),
        VARCHAR("data_sha256", doc="sha256 of those rows"),
        BLOB("content", doc="those rows as a Parquet file"),
    ),
    "publish.index": Table(
        DATE("month", doc=MONTH), INTEGER("version", doc=VERSION),
        VARCHAR("run_id", doc="id of the Dagster run that published the version"),
        VARCHAR("city_id", doc=CITY_ID), VARCHAR("name_en", doc=NAME_EN), VARCHAR("name_zh", doc=NAME_ZH),
        INTEGER("rank", doc=RANK), DOUBLE("score", doc=COMPREHENSIVE_SCORE),
        DOUBLE("quantitative_score", doc=QUANTITATIVE), DOUBLE("qualitative_score", doc=QUALITATIVE),
        DOUBLE("facebook_score", null=True, doc="the city's Facebook index, 0-100; null: no account or no index there"),
        DOUBLE("x_score", null=True, doc="the city's X index, 0-100; null: no account or no index there"),
        DOUBLE("instagram_score", null=True, doc="the city's Instagram index, 0-100; null: no account or no index there"),
        DOUBLE("youtube_score", null=True, doc="the city's YouTube index, 0-100; null: no account or no index there"),
        INTEGER("previous_rank", null=True, doc=PREVIOUS_RANK), INTEGER("rank_change", null=True, doc=RANK_CHANGE),
        DOUBLE("score_change", null=True, doc=SCORE_CHANGE),
        DOUBLE("median_rank", null=True, doc=f"{MEDIAN_RANK}; null without an uncertainty analysis (0.1.0)"),
        INTEGER("rank_p05", null=True, doc=f"{RANK_P05}; null without an uncertainty analysis"),
        INTEGER("rank_p95", null=True, doc=f"{RANK_P95}; null without an uncertainty analysis"),
        BOOLEAN("rank_robust", null=True, doc="whether the 5-95 % rank interval spans at most 10 places; null "
                "without an uncertainty analysis"),
    ),
}
# fmt: on
