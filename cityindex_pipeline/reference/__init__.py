"""Reference data: the registry of cities and accounts, platform figures, snapshots."""
