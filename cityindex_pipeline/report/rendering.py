"""Drawing a report's charts: each Vega-Lite specification to SVG text and a PNG file, with vl-convert,
offline, on as many processes as the machine has cores (at most `MAX_WORKERS`).

A chart takes vl-convert about a quarter of a second to lay out and draw, whatever its data, and a
report has eighteen: the charts were most of a report's time and all of it on one core. A helper
is a fresh Python process (not a fork: vl-convert runs its JavaScript engine on threads of its own)
that registers the report's font directory once. This module imports nothing but the standard
library until it draws, so that a helper starts fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_WORKERS = 4
"""More processes than this gain nothing on a report of eighteen charts: each pays about a second
to start its JavaScript engine."""
PNG_SCALE = 2.0
"""PNGs at twice the charts' size: sharp on a high-density screen and in print."""


def available_cores() -> int:
    """The cores this process may run on (its affinity, which a container or `taskset` narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def render_charts(
    specs: Mapping[str, dict[str, Any]],
    config: dict[str, Any],
    font_directory: str | None,
    directory: Path,
    *,
    workers: int | None = None,
) -> dict[str, str]:
    """Each chart as SVG text (for inlining), by name, and as `<name>.png` in `directory`. The charts
    are dealt out in turn to this process (which draws the first, the headline, first) and to
    `workers - 1` child processes (`python -m cityindex_pipeline.report.rendering`: a child runs no
    code of the caller's main module, as a multiprocessing pool would), each drawing its share while
    this process draws its own."""
    names = list(specs)
    count = min(len(names), workers or min(available_cores(), MAX_WORKERS))
    shares = [names[i::count] for i in range(max(count, 1))]
    children = [_start_child(share, specs, config, font_directory, directory) for share in shares[1:]]
    try:
        register_fonts(font_directory)
        svgs = {name: draw(specs[name], config, directory / f"{name}.png") for name in shares[0]}
    finally:
        failures = [failure for child in children if (failure := _finish(child))]
    if failures:
        raise RuntimeError("a chart could not be drawn: " + "; ".join(failures))
    for share in shares[1:]:
        svgs |= {name: (directory / f"{name}.svg").read_text(encoding="utf-8") for name in share}
        for name in share:
            (directory / f"{name}.svg").unlink()
    return {name: svgs[name] for name in names}


def _start_child(
    share: list[str],
    specs: Mapping[str, dict[str, Any]],
    config: dict[str, Any],
    font_directory: str | None,
    directory: Path,
) -> subprocess.Popen[bytes]:
    job = {
        "font_directory": font_directory,
        "config": config,
        "charts": [{"spec": specs[name], "path": str(directory / name)} for name in share],
    }
    # the job in a file, not a pipe: this process goes on to its own charts while the child starts
    handle, job_path = tempfile.mkstemp(prefix="cityindex-charts-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(job, file, default=str)
    # the child imports this module from where this process did, installed or not
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", __name__, job_path],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
    )


def _finish(child: subprocess.Popen[bytes]) -> str:
    """Wait for a child; what went wrong in it, or ""."""
    assert child.stderr is not None
    errors = child.stderr.read().decode("utf-8", "replace")
    returncode = child.wait()
    Path(str(child.args[-1])).unlink(missing_ok=True)  # type: ignore[index]
    if returncode == 0:
        return ""
    last = errors.strip().splitlines()[-1] if errors.strip() else f"exit status {returncode}"
    return last


_REGISTERED: set[str] = set()


def register_fonts(font_directory: str | None) -> None:
    """Tell vl-convert where the report's font is (once per process: it rescans the directory)."""
    if font_directory and font_directory not in _REGISTERED:
        import vl_convert

        vl_convert.register_font_directory(font_directory)
        _REGISTERED.add(font_directory)


def draw(spec: dict[str, Any], config: dict[str, Any], png_path: Path, scale: float = PNG_SCALE) -> str:
    """One chart: SVG text returned, PNG written; no network access is allowed."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec, config=config, allowed_base_urls=[])
    png_path.write_bytes(vl_convert.svg_to_png(svg, scale=scale))
    return svg


def _draw_share() -> None:
    """A child's work: the job in the file named by the first argument; each chart's SVG text
    beside its PNG."""
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    register_fonts(job["font_directory"])
    for chart in job["charts"]:
        path = Path(chart["path"])
        svg = draw(chart["spec"], job["config"], path.with_suffix(".png"))
        path.with_suffix(".svg").write_text(svg, encoding="utf-8")


if __name__ == "__main__":
    _draw_share()
