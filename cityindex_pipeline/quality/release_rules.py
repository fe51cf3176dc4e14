"""Rules on what a month releases, checked after it is written: the version's export against its
manifest and its digest, and the report holding every chart and a font that draws Chinese.

They cannot hold back the publication they check (it is written by then, and never changed): a
failure of the export's check stops the report, and either failure marks the month in the UI with
what to do.
"""

from __future__ import annotations

from collections.abc import Mapping

from cityindex_pipeline.quality.findings import Finding


def publication_intact(month: str, version: int | None, problems: list[str]) -> Finding:
    """The month's latest version exists, and its export matches its manifest, the manifest the one
    published, and the numbers the published digest (`publication.integrity.verify_publication`)."""
    if version is None:
        return Finding(False, 1, [{"month": month}], detail=f"{month} has no publication",
                       fix="materialise published_index for the month")  # fmt: skip
    return Finding(
        passed=not problems,
        failed_rows=len(problems),
        sample=[{"problem": p} for p in problems[:5]],
        detail=f"{month} v{version}: "
        + ("export, manifest and digest agree" if not problems else "; ".join(problems)),
        fix=""
        if not problems
        else "a published version is never changed: restore the export from $CITYINDEX_HOME/archive/ "
        "(`cityindex verify --month` heals what it can), or find what wrote into exports/",
    )


def report_complete(charts: list[str], image_bytes: Mapping[str, int], inline_svgs: int) -> Finding:
    """Every chart of the report (`charts.json`) is an image of its own, not empty, and inlined in the
    report's HTML."""
    problems = [{"chart": name, "problem": "no image"} for name in charts if name not in image_bytes]
    problems += [{"chart": name, "problem": "empty image"} for name in charts if image_bytes.get(name) == 0]
    if inline_svgs < len(charts):
        problems.append(
            {"chart": "", "problem": f"{inline_svgs} charts inlined in report.html for {len(charts)}"}
        )
    return Finding(
        passed=bool(charts) and not problems,
        failed_rows=len(problems) or (0 if charts else 1),
        sample=problems[:5] or ([] if charts else [{"problem": "no chart"}]),
        detail=f"{len(charts)} charts, {len(image_bytes)} images, {inline_svgs} inlined",
        fix=""
        if charts and not problems
        else "delete the version's report folder and materialise monthly_report again",
    )


def report_has_cjk_font(font: Mapping[str, object] | None) -> Finding:
    """The charts were drawn with a font that has Chinese glyphs (else cities are named in English only)."""
    if font is None:
        return Finding(False, 1, detail="the report records no font (written by an earlier version)",
                       fix="delete the version's report folder and materialise monthly_report again")  # fmt: skip
    cjk = bool(font.get("cjk"))
    return Finding(
        passed=cjk,
        failed_rows=0 if cjk else 1,
        detail=str(font.get("note", "")),
        fix=""
        if cjk
        else "install Debian's fonts-noto-cjk (`make system-packages`) or set "
        "CITYINDEX_CJK_FONT_DIR, then delete the report folder and materialise monthly_report again",
    )
