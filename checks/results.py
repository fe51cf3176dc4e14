"""From a domain `Finding` to a Dagster check result: severity from the gate catalogue, metadata that
shows what failed (counts, a sample of failing rows, what to do), and the override when one applies."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from cityindex_pipeline.defs.partitions import monthly
from cityindex_pipeline.defs.resources import PublishOptions
from cityindex_pipeline.quality.findings import Finding
from cityindex_pipeline.quality.gates import Gate, Severity, gate

RUN_FIRST = {"dagster/priority": "10"}
"""Op tags of every check: a check runs as soon as it can, before other ready steps, so that its result
is in the run before `published_index` (last among ready steps) reads the run's results. Blocking
orders a check before its asset's downstream steps only when that asset is in the run too."""


def specs(gates: Iterable[Gate]) -> list[dg.AssetCheckSpec]:
    """The checks of these gates of the catalogue, named and described by it: blocking and
    month-partitioned, so downstream steps wait for them."""
    return [
        dg.AssetCheckSpec(g.name, asset=g.asset, blocking=True, partitions_def=monthly, description=g.guards)
        for g in gates
    ]


def check_result(asset: str, name: str, finding: Finding, options: PublishOptions) -> dg.AssetCheckResult:
    """ERROR blocks; WARN does not. A failed ERROR check under an override is reported as WARN (so
    Dagster lets the run go on) with `overridden` and the reason in its metadata."""
    declared = gate(asset, name)
    override = options.override_errors.strip()
    overridden = not finding.passed and declared.severity is Severity.ERROR and bool(override)
    severity = Severity.WARN if overridden else declared.severity
    metadata: dict[str, object] = {
        "declared_severity": declared.severity.value,
        "guards": declared.guards,
        "engine": declared.engine,
        "failed_rows": finding.failed_rows,
        "detail": finding.detail,
        "sample": dg.MetadataValue.json(finding.sample),
    }
    if not finding.passed:
        metadata["fix"] = finding.fix or declared.fix
    for key, value in finding.extra.items():
        metadata[key] = dg.MetadataValue.json(value) if isinstance(value, list | dict) else value
    if overridden:
        metadata["overridden"] = True
        metadata["override_reason"] = override
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(asset),
        check_name=name,
        passed=finding.passed,
        severity=dg.AssetCheckSeverity(severity.value),
        metadata=metadata,
    )
