"""Data-quality checks that gate publication."""

from .index_checks import index_checks

all_checks = [*index_checks]

__all__ = ["all_checks"]
