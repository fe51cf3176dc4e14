"""Helpers the tests share: months run into a temporary home, landing drops, a platform stand-in,
a small publication, reading comparisons and a full disk. Fixtures stay in `conftest.py`."""
