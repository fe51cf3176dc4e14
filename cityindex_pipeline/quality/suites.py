"""Column-level expectation suites, validated with Great Expectations in memory.

A suite is a list of `Expectation`s: a Great Expectations expectation (its class name and arguments)
and the asset check it belongs to. `validate` runs a suite on a polars frame in an ephemeral GX
context (nothing written to disk, analytics off, no progress bars) and returns one `Finding` per
check: passed or not, how many rows failed, and a sample of the failing rows.

`import great_expectations` takes seconds: it happens inside `validate`, on first use, never when the
code location loads.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import polars as pl

from cityindex_pipeline.cleaning import COUNT_COLUMNS
from cityindex_pipeline.core.months import Month
from cityindex_pipeline.parsing.common import CONTENT_TYPES
from cityindex_pipeline.quality.findings import SAMPLE_ROWS, Finding, jsonable


@dataclass(frozen=True)
class Expectation:
    """One GX expectation (`kind` is its class name in `great_expectations.expectations`)."""

    check: str
    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    sample_columns: tuple[str, ...] = ()
    """Columns shown with a failing row, beside the expectation's own column(s)."""


POST_KEYS = ("platform", "account_handle", "post_id")


def posts_suite(month: Month) -> list[Expectation]:
    """clean.posts: unique (platform, post id), keys present, counts not negative, published inside the
    month (Beijing time), content type known."""
    keys = ("platform", "city_id", "account_handle", "platform_account_id", "post_id", "published_at_utc")
    return [
        Expectation(
            "posts_unique", "ExpectCompoundColumnsToBeUnique", {"column_list": ["platform", "post_id"]}
        ),
        *(
            Expectation("post_keys_not_null", "ExpectColumnValuesToNotBeNull", {"column": key}, POST_KEYS)
            for key in keys
        ),
        *(
            Expectation(
                "counts_not_negative",
                "ExpectColumnValuesToBeBetween",
                {"column": c, "min_value": 0},
                POST_KEYS,
            )
            for c in (*COUNT_COLUMNS, "interactions")
        ),
        Expectation(
            "published_in_month",
            "ExpectColumnValuesToBeBetween",
            {
                "column": "published_at_utc",
                "min_value": month.start_utc,
                "max_value": month.end_utc,
                "strict_max": True,
            },
            POST_KEYS,
        ),
        Expectation(
            "content_type_known",
            "ExpectColumnValuesToBeInSet",
            {"column": "content_type", "value_set": list(CONTENT_TYPES)},
            POST_KEYS,
        ),
    ]


METRIC_KEYS = ("platform", "account_handle")


def account_metrics_suite(month: Month) -> list[Expectation]:
    """clean.account_metrics: one row per account, counts not negative, active days within the month."""
    counts = ("followers", "posts", "video_posts", "interactions", "views", "exposures")
    return [
        Expectation(
            "metrics_well_formed", "ExpectCompoundColumnsToBeUnique", {"column_list": list(METRIC_KEYS)}
        ),
        *(
            Expectation(
                "metrics_well_formed",
                "ExpectColumnValuesToBeBetween",
                {"column": c, "min_value": 0},
                METRIC_KEYS,
            )
            for c in counts
        ),
        Expectation(
            "metrics_well_formed",
            "ExpectColumnValuesToBeBetween",
            {"column": "active_days", "min_value": 0, "max_value": month.days},
            METRIC_KEYS,
        ),
    ]


def index_suite(cities: int) -> list[Expectation]:
    """idx.comprehensive_index: one row per city of the roster, keys and scores present and in range."""
    return [
        Expectation("index_well_formed", "ExpectTableRowCountToEqual", {"value": cities}),
        Expectation("index_well_formed", "ExpectColumnValuesToBeUnique", {"column": "city_id"}),
        *(
            Expectation(
                "index_well_formed",
                "ExpectColumnValuesToBeBetween",
                {"column": c, "min_value": 0, "max_value": 100},
                ("city_id",),
            )
            for c in ("score", "quantitative_score", "qualitative_score")
        ),
        Expectation(
            "index_well_formed",
            "ExpectColumnValuesToBeBetween",
            {"column": "platforms_present", "min_value": 0, "max_value": 4},
            ("city_id",),
        ),
        *(
            Expectation("index_well_formed", "ExpectColumnValuesToNotBeNull", {"column": c}, ("city_id",))
            for c in ("city_id", "score", "rank")
        ),
    ]


def weights_suite(tolerance: float = 1e-9) -> list[Expectation]:
    """idx.platform_weights: four positive weights summing to 1."""
    return [
        Expectation("platform_weights_valid", "ExpectTableRowCountToEqual", {"value": 4}),
        Expectation(
            "platform_weights_valid",
            "ExpectColumnSumToBeBetween",
            {"column": "weight", "min_value": 1 - tolerance, "max_value": 1 + tolerance},
        ),
        Expectation(
            "platform_weights_valid",
            "ExpectColumnValuesToBeBetween",
            {"column": "weight", "min_value": 0, "max_value": 1, "strict_min": True},
            ("platform",),
        ),
    ]


@cache
def _gx() -> Any:
    """Great Expectations, imported once and quietly (no analytics, no progress bars)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import great_expectations as gx

    return gx


def import_great_expectations() -> None:
    """Pay Great Expectations' import now (the expectation engine's process does, at its start)."""
    _gx()
    import great_expectations.expectations  # noqa: F401


def _context() -> Any:
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def validate(frame: pl.DataFrame, suite: list[Expectation], name: str) -> dict[str, Finding]:
    """Run `suite` on `frame` with Great Expectations; one Finding per check named in the suite."""
    gx = _gx()
    import great_expectations.expectations as gxe

    context = _context()
    tag = uuid.uuid4().hex[:8]
    batch = (
        context.data_sources.add_pandas(f"{name}-{tag}")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("month")
    )
    gx_suite = context.suites.add(gx.ExpectationSuite(name=f"{name}-{tag}"))
    for position, expectation in enumerate(suite):
        gx_suite.add_expectation(
            getattr(gxe, expectation.kind)(**expectation.kwargs, meta={"position": position})
        )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}-{tag}", data=batch, suite=gx_suite)
    )
    columns = sorted({c for e in suite for c in _columns_of(e)} & set(frame.columns))
    pandas_frame = frame.select(columns).to_pandas() if columns else frame.select([]).to_pandas()
    if not columns:
        pandas_frame.index = range(frame.height)
    results = definition.run(
        batch_parameters={"dataframe": pandas_frame}, result_format={"result_format": "COMPLETE"}
    )
    by_check: dict[str, list[tuple[Expectation, Any]]] = {}
    for result in results.results:
        expectation = suite[int(result.expectation_config.meta["position"])]
        by_check.setdefault(expectation.check, []).append((expectation, result))
    return {check: _finding(frame, outcomes) for check, outcomes in by_check.items()}


def _columns_of(expectation: Expectation) -> list[str]:
    own = expectation.kwargs.get("column_list") or (
        [expectation.kwargs["column"]] if "column" in expectation.kwargs else []
    )
    return [*own, *expectation.sample_columns]


def _finding(frame: pl.DataFrame, outcomes: list[tuple[Expectation, Any]]) -> Finding:
    failed_indices: set[int] = set()
    samples: list[dict[str, object]] = []
    failures: list[dict[str, object]] = []
    for expectation, result in outcomes:
        if result.success:
            continue
        info = result.result or {}
        exception = (result.exception_info or {}).get("exception_message") if result.exception_info else None
        indices = [int(i) for i in info.get("unexpected_index_list") or [] if isinstance(i, int | float)]
        failed_indices.update(indices)
        failures.append(
            {
                "expectation": expectation.kind,
                "arguments": jsonable([_describe(expectation.kwargs)])[0],
                "unexpected_count": info.get("unexpected_count"),
                "observed_value": jsonable([{"v": info.get("observed_value")}])[0]["v"],
                **({"error": exception} if exception else {}),
            }
        )
        if indices and len(samples) < SAMPLE_ROWS:
            columns = [c for c in dict.fromkeys(_columns_of(expectation)) if c in frame.columns]
            rows = frame[indices[: SAMPLE_ROWS - len(samples)]].select(columns).to_dicts()
            samples += [{"expectation": expectation.kind, **row} for row in jsonable(rows)]
    if not failures:
        return Finding(
            True, 0, [], f"{len(outcomes)} expectation(s) met", extra={"expectations": len(outcomes)}
        )
    table_level = not failed_indices
    return Finding(
        passed=False,
        failed_rows=len(failed_indices) if not table_level else len(failures),
        sample=samples
        or [{"expectation": f["expectation"], "observed": f["observed_value"]} for f in failures],
        detail=f"{len(failures)} of {len(outcomes)} expectations not met",
        extra={"expectations": len(outcomes), "failed_expectations": failures},
    )


def _describe(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in kwargs.items()}
