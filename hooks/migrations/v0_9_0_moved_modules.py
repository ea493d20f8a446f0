"""v0.9.0 moved the loose helper modules into rooms; this rewrites your imports of them.

`idempotency`, `safe_paths` and `untrusted` now live in `toolkit/` (with the registry, which is
still importable as `toolkit`), `redaction` in `observability/`, `scopes` in `auth/`, and
`mcp_server.McpServer` became `toolkit.server.ErrorContractServer`. Copier deletes the old
modules on update; your own files under `tools/`, `services/`, `tests/tools/` and `tests/services/`
are never touched by the update itself, so this `after` migration rewrites their imports.
Standard library only; running it twice changes nothing.

Usage: v0_9_0_moved_modules.py PACKAGE_NAME (run in the project root).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MOVES = {
    "idempotency": "toolkit.idempotency",
    "safe_paths": "toolkit.safe_paths",
    "untrusted": "toolkit.untrusted",
    "redaction": "observability.redaction",
    "scopes": "auth.scopes",
    "mcp_server": "toolkit.server",
}
RENAMES = {"McpServer": "ErrorContractServer"}


def rewrite(text: str, package: str) -> str:
    """`text` with every import of a moved module pointing at its new place."""
    for old, new in MOVES.items():
        # from ..idempotency import X  /  from acme.idempotency import X  /  import acme.idempotency
        text = re.sub(rf"^(\s*from\s+\.+){old}(\s+import\b)", rf"\g<1>{new}\g<2>", text, flags=re.MULTILINE)
        text = re.sub(rf"\b{package}\.{old}\b", f"{package}.{new}", text)
    if "toolkit.server" in text:
        for old, new in RENAMES.items():
            text = re.sub(rf"\b{old}\b", new, text)
    return sort_import_runs(text)


SINGLE_IMPORT = re.compile(r"^from (\S+) import [^()]+$")


def sort_import_runs(text: str) -> str:
    """Re-sort each run of one-line `from X import Y` statements by module, as isort (ruff's I001)
    orders them, so a rewritten module name does not leave the block out of order."""
    lines = text.split("\n")
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if SINGLE_IMPORT.match(line):
            run.append(line)
            continue
        out.extend(sorted(run, key=lambda item: item.split()[1]))  # ".." sorts before "."
        run = []
        out.append(line)
    return "\n".join(out[:-1])


def owned_files(package: str) -> list[Path]:
    roots = [
        Path("src", package, "tools"),
        Path("src", package, "services"),
        Path("tests/tools"),
        Path("tests/services"),
    ]
    return sorted(path for root in roots if root.is_dir() for path in root.rglob("*.py"))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not re.fullmatch(r"[a-z][a-z0-9_]*", argv[1]):
        print("usage: v0_9_0_moved_modules.py PACKAGE_NAME", file=sys.stderr)
        return 2
    package = argv[1]
    changed = []
    for path in owned_files(package):
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, package)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(str(path))
    if changed:
        print(f"migration v0.9.0: rewrote imports of moved modules in {', '.join(changed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
