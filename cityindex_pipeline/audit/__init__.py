"""Audit: trace a published score to its documents; recompute a publication (verify)."""
