"""Known vulnerabilities in the pinned dependencies, and how many of them could be checked at all.

pip-audit says "No known vulnerabilities found" even when it could not look a single package up
(no route to the advisory service): this summary says how many were audited. Exit 0: all audited,
none vulnerable; 1: known vulnerabilities; 2: some or all packages could not be audited.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    bin_dir = Path(sys.executable).parent
    done = subprocess.run(
        [
            str(bin_dir / "pip-audit"),
            "--requirement",
            "constraints.txt",
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        print(f"pip-audit gave no report (exit {done.returncode}): {done.stderr.strip()[-400:]}")
        return 2
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    audited = len(dependencies) - len(skipped)
    print(
        f"audited {audited} of {len(dependencies)} pinned packages: "
        f"{sum(len(d['vulns']) for d in vulnerable)} known vulnerabilities"
    )
    if skipped:
        print(f"not audited ({len(skipped)}), e.g. {skipped[0]['skip_reason']}")
    if vulnerable:
        return 1
    return 2 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
