"""A disk that fills: `os.<call>` fails with ENOSPC from its n-th call on, until freed."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def disk_full_from(call: str, n: int) -> Iterator[list[int]]:
    """`os.<call>` (write, fsync, rename, mkdir...) fails with ENOSPC from its n-th call on, as a disk
    that stays full until the block ends; yields the count of calls seen (fewer than n: never met)."""
    original, seen = getattr(os, call), [0]

    def failing(*args, **kwargs):
        seen[0] += 1
        if seen[0] >= n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(*args, **kwargs)

    setattr(os, call, failing)
    try:
        yield seen
    finally:
        setattr(os, call, original)
