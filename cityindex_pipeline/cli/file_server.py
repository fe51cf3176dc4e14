"""A read-only web view of one `CITYINDEX_HOME`'s reports and exports on 127.0.0.1, which
`cityindex dev` starts beside the Dagster UI: the links in the assets' metadata (`report_url`,
`export_url`) open the month's report and its export folder in the browser.

It serves the two folders and nothing else: not the warehouse, the archive, the landing folder or
Dagster's storage; no hidden entry (a report being written is a hidden folder until it is renamed);
no symbolic link that leaves its folder; GET and HEAD only.
"""

from __future__ import annotations

import html
import os
import sys
import threading
import time
import urllib.parse
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path

SERVED_FOLDERS = ("reports", "exports")
"""The folders of `CITYINDEX_HOME` the server shows, at `/reports/...` and `/exports/...`."""


class ReadOnlyFiles(SimpleHTTPRequestHandler):
    """`SimpleHTTPRequestHandler` over `CITYINDEX_HOME`, narrowed to the served folders."""

    def __init__(self, *args, home: Path, **kwargs) -> None:
        self.home = home.resolve()
        super().__init__(*args, directory=str(self.home), **kwargs)

    def send_head(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path in ("", "/"):
            return self._listing("/", [self.home / folder for folder in SERVED_FOLDERS])
        target = self._served(path)
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND, "not a report or an export")
            return None
        if target.is_dir():
            if not path.endswith("/"):
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", urllib.parse.quote(path + "/"))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            shown = sorted(entry for entry in target.iterdir() if self._served_entry(entry))
            return self._listing(path, shown)
        return super().send_head()

    def _served(self, path: str) -> Path | None:
        """The file or folder `path` names, if it is inside a served folder and shown."""
        parts = [part for part in path.split("/") if part]
        if not parts or parts[0] not in SERVED_FOLDERS or any(p.startswith(".") or p == ".." for p in parts):
            return None
        candidate = self.home.joinpath(*parts)
        if not candidate.exists() or not self._served_entry(candidate):
            return None
        return candidate

    def _served_entry(self, entry: Path) -> bool:
        """Not hidden, and (symbolic links followed) still inside its served folder."""
        if entry.name.startswith("."):
            return False
        try:
            relative = entry.resolve(strict=True).relative_to(self.home)
        except (OSError, ValueError):
            return False
        return bool(relative.parts) and relative.parts[0] in SERVED_FOLDERS

    def _listing(self, path: str, entries: list[Path]):
        base = path if path.endswith("/") else path + "/"
        items = "".join(
            f'<li><a href="{html.escape(urllib.parse.quote(base + e.name + ("/" if e.is_dir() else "")))}">'
            f"{html.escape(e.name)}{'/' if e.is_dir() else ''}</a></li>"
            for e in entries
            if e.exists()
        )
        body = (
            f"<!doctype html><meta charset='utf-8'><title>cityindex {html.escape(path)}</title>"
            f"<h1>{html.escape(path)}</h1><ul>{items}</ul>"
        ).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return BytesIO(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the Dagster UI's terminal is the user's, not the file server's."""


def file_server(home: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server bound to `host:port` (0: a free port), not yet serving; `serve_forever` serves."""
    return ThreadingHTTPServer((host, port), partial(ReadOnlyFiles, home=home))


def serve_while_parent_lives(server: ThreadingHTTPServer, parent_pid: int, poll_seconds: float = 1.0) -> None:
    """Serve until the process that started this one is gone (`cityindex dev` becomes `dg dev`,
    same process id): the server never outlives the UI it belongs to."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        server.shutdown()

    threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    """`python -m cityindex_pipeline.cli.file_server HOME PORT`: prints the URL once it listens."""
    home, port = argv or sys.argv[1:3]
    try:
        server = file_server(Path(home), int(port))
    except OSError as error:
        print(f"cannot serve on 127.0.0.1:{port}: {error.strerror}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    serve_while_parent_lives(server, os.getppid())


if __name__ == "__main__":
    main()
