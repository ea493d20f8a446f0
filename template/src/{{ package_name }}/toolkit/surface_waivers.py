"""The reviewed waivers of surface-scan findings: one TOML file at the project root.

A waiver is a `waiver` table (an array-of-tables entry) with `kind`, `name`,
`rule` and a `reason`. A waiver that cannot be right
(no reason, an unknown rule, an item the server no longer declares, nothing left to waive) is an
error, so the file stays a true record of what was reviewed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .surface_scan import RULES, Finding, Surface

WAIVERS_FILE = "tools-waivers.toml"
KINDS = ("tool", "resource", "resource-template", "prompt")
FIELDS = ("kind", "name", "rule", "reason")


class WaiverError(ValueError):
    """The waivers file cannot be used; the message names the file, the entry and the problem."""


@dataclass(frozen=True)
class Waiver:
    kind: str
    name: str
    rule: str
    reason: str

    def covers(self, finding: Finding) -> bool:
        return (self.kind, self.name, self.rule) == (finding.kind, finding.name, finding.rule)


def load_waivers(path: Path, surface: Surface) -> tuple[Waiver, ...]:
    """The waivers in `path` (none when it does not exist), checked against what `surface` declares."""
    if not path.exists():
        return ()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WaiverError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(document) - {"waiver"}
    if unknown:
        raise WaiverError(f"{path}: unknown table(s) {sorted(unknown)}; only waiver entries are accepted")
    entries = document.get("waiver", [])
    if not isinstance(entries, list):
        raise WaiverError(f"{path}: 'waiver' must be a list of tables, one per waiver (see the header comment)")
    declared = surface.names()
    problems = [
        problem for number, entry in enumerate(entries, 1) for problem in _problems(path, number, entry, declared)
    ]
    if problems:
        raise WaiverError("\n".join(problems))
    return tuple(Waiver(**{field: entry[field] for field in FIELDS}) for entry in entries)


def apply_waivers(path: Path, findings: Sequence[Finding], waivers: Sequence[Waiver]) -> list[Finding]:
    """The findings no waiver covers; a waiver that covers no finding is an error (it is stale)."""
    unused = [
        f"{path}: waiver {number} ({waiver.kind} {waiver.name!r} {waiver.rule}): stale, the scan finds nothing "
        "to waive; delete the entry"
        for number, waiver in enumerate(waivers, 1)
        if not any(waiver.covers(finding) for finding in findings)
    ]
    if unused:
        raise WaiverError("\n".join(unused))
    return [finding for finding in findings if not any(waiver.covers(finding) for waiver in waivers)]


def _problems(path: Path, number: int, entry: object, declared: set[tuple[str, str]]) -> list[str]:
    where = f"{path}: waiver {number}"
    if not isinstance(entry, dict):
        return [f"{where}: must be a table with {', '.join(FIELDS)}"]
    problems = [f"{where}: unknown key {key!r}; accepted: {', '.join(FIELDS)}" for key in entry if key not in FIELDS]
    missing = [field for field in FIELDS if not isinstance(entry.get(field), str) or not entry[field].strip()]
    problems += [f"{where}: '{field}' is missing or empty (a waiver needs a non-empty {field})" for field in missing]
    if problems:
        return problems
    if entry["kind"] not in KINDS:
        problems.append(f"{where}: unknown kind {entry['kind']!r}; accepted: {', '.join(KINDS)}")
    if entry["rule"] not in RULES:
        problems.append(f"{where}: unknown rule {entry['rule']!r}; accepted: {', '.join(RULES)}")
    if not problems and (entry["kind"], entry["name"]) not in declared:
        problems.append(f"{where}: stale, the server declares no {entry['kind']} {entry['name']!r}; delete the entry")
    return problems
