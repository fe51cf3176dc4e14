"""Storage: the DuckDB warehouse (all SQL), the archive beside it, crash-safe writes."""
