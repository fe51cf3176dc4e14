"""Helpers the tests share: months run into a temporary home, landing drops, a platform stand-in,
the API source tests' local server, a small publication, reading comparisons and a full disk.
Fixtures stay in `conftest.py`."""
