"""A helper process: a fresh `python -m <module>` child that answers requests over a socket pair.

Work whose cost is paid once per process, whatever the data (Great Expectations' import, a JavaScript
engine's start), is paid in a helper started while a run's first steps work, on another core, and
the helper is then asked for the work itself. A fresh process, not a fork: Dagster's and DuckDB's
threads would be copied mid-flight. The child inherits its end of the socket pair (its descriptor is
its first argument) and imports this package from where this process did, installed or not.
Requests and answers are pickled; an answer is `("ok", value)` or `("error", exception)`, the
exception raised here as it would have been raised in this process.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class HelperProcess:
    """The child process and this process's end of the socket pair to it."""

    def __init__(self, module: str, *arguments: str) -> None:
        ours, theirs = socket.socketpair()
        path = os.pathsep.join(p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, str(theirs.fileno()), *arguments],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
        finally:
            theirs.close()
        self.connection = Connection(ours.detach())
        self.owner = os.getpid()
        self.lock = threading.Lock()

    def alive(self) -> bool:
        """Started by this process (not inherited through a fork) and still running."""
        return self.owner == os.getpid() and self.process.poll() is None

    def send(self, request: Any) -> None:
        self.connection.send(request)

    def receive(self) -> Any:
        """The answer to the request sent last; its error raised here. EOFError or OSError: gone."""
        outcome, value = self.connection.recv()
        if outcome == "error":
            raise value
        return value

    def peak_rss_mib(self) -> float | None:
        """The child's peak resident memory so far (Linux), for the bench."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def close(self) -> None:
        self.connection.close()  # the child sees the end of its input and exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(answer: Callable[[Any], Any], prepare: Callable[[], None] | None = None) -> None:
    """The child's loop (call it from the module's `__main__`): `prepare()`, then `answer(request)`
    for each request until the parent hangs up. An interrupt is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    connection = Connection(int(sys.argv[1]))
    if prepare is not None:
        prepare()
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", answer(request))
        except Exception as error:  # raised in the parent, as it would have been there
            reply = ("error", _portable(error))
        connection.send(reply)


def _portable(error: Exception) -> Exception:
    """The error itself if it pickles, else a RuntimeError with its traceback."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError("".join(traceback.format_exception(error)))
