"""Dagster wiring: partitions, resources, jobs, schedules, sensors, catalog, check outcomes."""
