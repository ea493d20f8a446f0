"""`lock-tools`: write the reviewed snapshot of the tool surface, or check the code still matches it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio

from .app import collect_tools
from .settings import Settings
from .toolkit.surface import LOCK_FILE, REVIEW_HINT, LockFileError, load_lock, render, snapshot, surface_diff


async def live_surface() -> dict[str, Any]:
    """The surface the project's own code declares, in every era.

    Built from defaults, never from the environment: an operator's allow/deny list (a middleware)
    changes what one deployment offers, not what the code declares and a reviewer approved.
    """
    return await snapshot(collect_tools(Settings.model_construct()).server)


def lock_tools(path: Path | None, *, check: bool) -> int:
    """Write `path` (default ./tools.lock), or with `check` compare it and print the diff."""
    target = path if path is not None else Path(LOCK_FILE)
    live = anyio.run(live_surface)
    if not check:
        target.write_text(render(live), encoding="utf-8")
        print(f"wrote {target}: review the change and commit it")
        return 0
    try:
        reviewed = load_lock(target)
    except LockFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    diff = surface_diff(reviewed, live)
    if diff:
        print(diff + "\n" + REVIEW_HINT)
        return 1
    print(f"{target} matches the live tool surface")
    return 0
