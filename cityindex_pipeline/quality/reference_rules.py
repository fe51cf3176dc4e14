"""Rules on the reference layer: the month's registry of cities and accounts, and the platform figures.

Both are read from versioned files of the repository and copied into the month; a rule here catches
a file edited into an inconsistent state (an account of a city that is not on the roster, a handle
registered twice) before any number of the month is computed from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cityindex_pipeline.quality.findings import Finding, finding_from


def _problem(frame: pl.DataFrame, problem: str, *columns: str) -> pl.DataFrame:
    return frame.select(*[pl.col(c).cast(pl.String) for c in columns]).with_columns(problem=pl.lit(problem))


def registry_consistent(cities: pl.DataFrame, accounts: pl.DataFrame, platforms: Sequence[str]) -> Finding:
    """A roster of unique cities; every account on a known platform, of a city of the roster, its
    handle and its platform id each registered once per platform; one registry version for both."""
    keys = ("city_id", "platform", "account_handle")
    failures = [
        _problem(cities.filter(pl.col("city_id").is_duplicated()), "city registered twice", "city_id"),
        _problem(
            accounts.join(cities.select("city_id"), on="city_id", how="anti"),
            "account of a city not on the roster",
            *keys,
        ),
        _problem(accounts.filter(~pl.col("platform").is_in(list(platforms))), "unknown platform", *keys),
        _problem(
            accounts.filter(pl.struct("platform", "account_handle").is_duplicated()),
            "handle registered twice on the platform",
            *keys,
        ),
        _problem(
            accounts.filter(pl.struct("platform", "platform_account_id").is_duplicated()),
            "platform account id registered twice",
            *keys,
        ),
    ]
    versions = set(cities["registry_version"].unique()) | set(accounts["registry_version"].unique())
    if len(versions) > 1:
        failures.append(
            pl.DataFrame({"problem": [f"registry versions {', '.join(sorted(versions))} in one month"]})
        )
    if cities.is_empty():
        failures.append(pl.DataFrame({"problem": ["no city on the roster"]}))
    found = pl.concat(failures, how="diagonal_relaxed")
    return finding_from(
        found,
        f"{cities.height} cities, {accounts.height} accounts ({int(accounts['active'].sum())} active), "
        f"registry {', '.join(sorted(versions)) or 'none'}",
        fix="correct cityindex_pipeline/data/cities.csv or accounts.csv (or your registry files), then "
        "re-run the month from account_registry",
    )


def reference_complete(reference: pl.DataFrame, platforms: Sequence[str]) -> Finding:
    """One row per platform, each figure a positive finite number (the weights divide by them)."""
    figures = ("monthly_active_users_millions", "daily_minutes_per_user", "relevance")
    present = set(reference["platform"])
    missing = pl.DataFrame(
        {"platform": [p for p in platforms if p not in present]}, schema={"platform": pl.String}
    )
    bad = pl.any_horizontal([pl.col(f).is_null() | pl.col(f).is_nan() | (pl.col(f) <= 0) for f in figures])
    failures = pl.concat(
        [
            missing.with_columns(problem=pl.lit("no row for the platform")),
            _problem(reference.filter(pl.col("platform").is_duplicated()), "platform twice", "platform"),
            reference.filter(bad)
            .select("platform", *figures)
            .with_columns(problem=pl.lit("figure not positive")),
        ],
        how="diagonal_relaxed",
    )
    return finding_from(
        failures,
        f"{reference.height} platforms: {', '.join(sorted(present))}",
        fix="correct cityindex_pipeline/data/platform_reference.csv (or platform_users.csv), then re-run "
        "the month from platform_reference",
    )
