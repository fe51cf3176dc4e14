"""Small text renderings shared by metadata, the CLI and reports."""

from __future__ import annotations

import polars as pl


def markdown_table(frame: pl.DataFrame, float_digits: int = 2) -> str:
    """A GitHub-style Markdown table, for Dagster metadata and reports (no pandas needed)."""

    def cell(value: object) -> str:
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:,.{float_digits}f}"
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join([header, rule, *rows])
