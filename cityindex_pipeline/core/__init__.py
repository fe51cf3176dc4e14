"""Primitives every layer uses: platforms, months, fingerprints, text renderings, settings."""
