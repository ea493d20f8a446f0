"""v0.6.0 moved tests/test_context_budget.py to tests/tools/test_context_budget.py (now yours).

Copier deletes the old file on update even when you had edited it, so this `after` migration
carries your values of TOOLS_LIST_BUDGET_BYTES and MAX_DESCRIPTION_WORDS from the last commit
into the new file. Standard library only; running it twice changes nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

OLD = "tests/test_context_budget.py"
NEW = Path("tests/tools/test_context_budget.py")
CONSTANTS = ("TOOLS_LIST_BUDGET_BYTES", "MAX_DESCRIPTION_WORDS")


def committed_text(path: str) -> str | None:
    """The file as last committed (the update runs on a clean tree), or None if it was not there."""
    result = subprocess.run(["git", "show", f"HEAD:{path}"], capture_output=True, text=True, check=False)
    return result.stdout if result.returncode == 0 else None


def value_of(name: str, text: str) -> str | None:
    match = re.search(rf"^{name} = ([0-9_]+)\s*(?:#.*)?$", text, re.MULTILINE)  # a comment may follow
    return match.group(1) if match else None


def main() -> int:
    old = committed_text(OLD)
    if old is None or not NEW.is_file():
        return 0
    new = NEW.read_text(encoding="utf-8")
    carried = []
    for name in CONSTANTS:
        mine, default = value_of(name, old), value_of(name, new)
        if mine is not None and default is not None and mine != default:
            new = re.sub(rf"^{name} = [0-9_]+", f"{name} = {mine}", new, count=1, flags=re.MULTILINE)
            carried.append(f"{name} = {mine}")
    if carried:
        NEW.write_text(new, encoding="utf-8")
        print(f"migration v0.6.0: kept {', '.join(carried)} in {NEW}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
