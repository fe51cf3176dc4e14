"""Drawing a report's charts: each Vega-Lite specification to SVG text and a PNG file, with vl-convert,
offline, on as many processes as the machine has cores (at most `MAX_WORKERS`).

A chart takes vl-convert about a fifth of a second to lay out and draw, whatever its data, and a
report has a dozen: the charts are most of a report's time. They are drawn by drawers: helper
processes (`core/helper_process.py`, fresh processes, not forks: vl-convert runs its JavaScript
engine on threads of its own), each of which starts its JavaScript engine (about a third of a
second) before it is asked for anything. A run that writes a report starts its drawers when it
starts (`start_drawers`, by the Dagster resource `ChartsResource`), so that this is paid beside the
first steps and the report's step only draws; one set per process, kept for the reports that follow,
ended with the process. Without drawers started earlier, `render_charts` starts them itself and
draws a share here meanwhile. A drawer that stops has its share drawn here. This module imports
nothing but the standard library until it draws, so that a drawer starts fast.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cityindex_pipeline.core.helper_process import HelperProcess, serve

LOGGER = logging.getLogger("cityindex.report")
MAX_WORKERS = 4
"""More processes than this gain nothing on a report of a dozen charts: each pays about a third of
a second to start its JavaScript engine."""
PNG_SCALE = 2.0
"""PNGs at twice the charts' size: sharp on a high-density screen and in print."""
WARM_UP_SPEC: dict[str, Any] = {
    "data": {"values": [{"label": "warm-up", "value": 1}]},
    "mark": "bar",
    "encoding": {
        "x": {"field": "value", "type": "quantitative"},
        "y": {"field": "label", "type": "nominal"},
    },
}
"""What a drawer draws first, to start its JavaScript engine before a report needs it."""


def available_cores() -> int:
    """The cores this process may run on (its affinity, which a container or `taskset` narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers() -> int:
    return min(available_cores(), MAX_WORKERS)


class _Drawer(HelperProcess):
    """A drawer: this module run with `-m`, its JavaScript engine started at once."""

    def __init__(self) -> None:
        super().__init__(__name__)


_DRAWERS: list[_Drawer] = []
_STARTING = threading.Lock()
_DRAWING = threading.Lock()
"""One report's charts at a time on the drawers: a drawer answers the job it was sent last."""


def start_drawers(count: int | None = None) -> None:
    """Start drawers until `count` (the default: `default_workers()`) run in this process."""
    wanted = default_workers() if count is None else count
    with _STARTING:
        for gone in [drawer for drawer in _DRAWERS if not drawer.alive()]:
            if gone.owner == os.getpid():
                gone.close()
            _DRAWERS.remove(gone)  # stopped, or a parent's inherited through a fork
        try:
            while len(_DRAWERS) < wanted:
                _DRAWERS.append(_Drawer())
        except OSError as error:
            LOGGER.warning("a chart drawer could not start (%s): drawing in this process", error)


def running_drawers() -> int:
    return sum(drawer.alive() for drawer in _DRAWERS)


def drawers_peak_rss_mib() -> float | None:
    """The running drawers' peak resident memory, summed (each at its own peak), or None."""
    peaks = [peak for drawer in _DRAWERS if drawer.alive() and (peak := drawer.peak_rss_mib())]
    return sum(peaks) if peaks else None


@atexit.register
def stop_drawers() -> None:
    """End this process's drawers (they also end when this process does)."""
    with _STARTING:
        for drawer in _DRAWERS:
            if drawer.owner == os.getpid():
                drawer.close()
        _DRAWERS.clear()


def render_charts(
    specs: Mapping[str, dict[str, Any]],
    config: dict[str, Any],
    font_directory: str | None,
    directory: Path,
    *,
    workers: int | None = None,
) -> dict[str, str]:
    """Each chart as SVG text (for inlining), by name, and as `<name>.png` in `directory`. The charts
    are dealt out in turn to `workers` shares, the first (with the headline, the first chart) drawn
    first. When as many drawers run as there are shares, they draw them all; otherwise the missing
    drawers are started and this process draws the first share while they start."""
    with _DRAWING:
        return _render(list(specs), specs, config, font_directory, directory, workers)


def _render(
    names: list[str],
    specs: Mapping[str, dict[str, Any]],
    config: dict[str, Any],
    font_directory: str | None,
    directory: Path,
    workers: int | None,
) -> dict[str, str]:
    count = max(min(len(names), workers or default_workers()), 1)
    shares = [names[i::count] for i in range(count)]
    drawers = [drawer for drawer in _DRAWERS if drawer.alive()]
    here: list[list[str]] = []
    if len(drawers) < count:
        start_drawers(count - 1)
        drawers = [drawer for drawer in _DRAWERS if drawer.alive()]
        here = [shares[0]]
    theirs = shares[len(here) :]
    here += theirs[len(drawers) :]  # no drawer for these (one could not start): drawn here
    sent: list[tuple[_Drawer, list[str]]] = []
    for drawer, share in zip(drawers, theirs, strict=False):
        try:
            drawer.send(_job(share, specs, config, font_directory, directory))
            sent.append((drawer, share))
        except OSError as error:  # stopped since it was counted
            _lost(drawer, error)
            here.append(share)
    svgs: dict[str, str] = {}
    failures: list[str] = []
    try:
        register_fonts(font_directory)
        for share in here:
            svgs |= {name: draw(specs[name], config, directory / f"{name}.png") for name in share}
    finally:
        for drawer, share in sent:
            try:
                svgs |= dict(zip(share, drawer.receive(), strict=True))
            except (EOFError, OSError) as error:
                _lost(drawer, error)
                here.append(share)
            except Exception as error:
                failures.append(f"{type(error).__name__}: {error}")
    if failures:
        raise RuntimeError("a chart could not be drawn: " + "; ".join(failures))
    for share in here:
        missing = [name for name in share if name not in svgs]
        register_fonts(font_directory)
        svgs |= {name: draw(specs[name], config, directory / f"{name}.png") for name in missing}
    return {name: svgs[name] for name in names}


def _lost(drawer: _Drawer, error: BaseException) -> None:
    LOGGER.warning("a chart drawer stopped (%s): drawing its charts here", type(error).__name__)
    drawer.close()


def _job(
    share: list[str],
    specs: Mapping[str, dict[str, Any]],
    config: dict[str, Any],
    font_directory: str | None,
    directory: Path,
) -> dict[str, Any]:
    return {
        "font_directory": font_directory,
        "config": config,
        "charts": [{"spec": specs[name], "png": str(directory / f"{name}.png")} for name in share],
    }


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


def _draw_job(job: dict[str, Any]) -> list[str]:
    """A drawer's work: each chart of the job drawn, its PNG written, its SVG text returned."""
    register_fonts(job["font_directory"])
    return [draw(chart["spec"], job["config"], Path(chart["png"])) for chart in job["charts"]]


def _start_javascript_engine() -> None:
    import vl_convert

    vl_convert.vegalite_to_svg(WARM_UP_SPEC, allowed_base_urls=[])


if __name__ == "__main__":
    serve(_draw_job, prepare=_start_javascript_engine)
