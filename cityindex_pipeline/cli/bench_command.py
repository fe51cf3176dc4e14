"""`cityindex bench`: the benchmark (`benchmarks/`), its figures printed and optionally written."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cityindex_pipeline.cli import arguments
from cityindex_pipeline.cli.output import console


@click.command()
@click.option("--scale", default="1,10,100", show_default=True, help="Scale factors, comma separated.")
@click.option(
    "--repeat", default=3, show_default=True, type=click.IntRange(min=1), help="Runs per figure (medians)."
)
@click.option(
    "--backfill-months",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Months of the backfill, through a webserver and daemon of their own, against the same months by "
    "the in-process runner; 0 leaves the backfill out.",
)
@click.option("--backfill-scale", default="1,10", show_default=True, help="Scale factors of the backfill.")
@click.option(
    "--backfill-repeat",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Pairs (backfill, runner) per backfill scale, in alternating order: median ratio and spread.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write every figure here.")
def bench(
    scale: str,
    repeat: int,
    backfill_months: int,
    backfill_scale: str,
    backfill_repeat: int,
    json_path: str | None,
) -> None:
    """Time and size the pipeline at several scales, in scratch homes, against a pandas peer."""
    from benchmarks.bench import run_bench
    from benchmarks.summary import print_report

    scales, backfill_scales = arguments.scale_factors(scale), arguments.scale_factors(backfill_scale)
    report = run_bench(scales, repeat, backfill_months, tuple(backfill_scales), backfill_repeat)
    print_report(report, console)
    if json_path:
        Path(json_path).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        console.print(f"figures written to {json_path}")
