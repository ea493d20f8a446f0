"""`scan-tools`: scan the tool surface the code declares and print every finding no waiver covers."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from .app import collect_tools
from .settings import Settings
from .toolkit.surface_scan import Finding, declared_surface, scan
from .toolkit.surface_waivers import WAIVERS_FILE, WaiverError, apply_waivers, load_waivers


def unwaived_findings(waivers_path: Path) -> list[Finding]:
    """Findings on the project's own surface that `waivers_path` does not waive; raises WaiverError.

    Built from defaults, never from the environment: the scan reviews what the code declares.
    """
    surface = anyio.run(declared_surface, collect_tools(Settings.model_construct()).server)
    waivers = load_waivers(waivers_path, surface)
    return apply_waivers(waivers_path, scan(surface), waivers)


def scan_tools(path: Path | None) -> int:
    """Exit 0 when clean, 1 with one finding per line, 2 when the waivers file is wrong."""
    target = path if path is not None else Path(WAIVERS_FILE)
    try:
        findings = unwaived_findings(target)
    except WaiverError as exc:
        print(exc, file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    if findings:
        print(
            f"{len(findings)} finding(s): fix the text, or waive one with a reason in {target}",
            file=sys.stderr,
        )
        return 1
    print("no findings on the tool surface")
    return 0
