"""The running tool call's deadline, readable by any room without importing MCP.

The tool-limits middleware opens `deadline_after(timeout)` around every tool call; a service
asks `seconds_left()` before it waits (a retry backoff, a slow upstream) so it never plans
work past the point where the call is cancelled anyway.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("tool_deadline", default=None)


def seconds_left() -> float | None:
    """Seconds until the current tool call is cancelled (never negative), or None outside one."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())


@contextmanager
def deadline_after(seconds: float) -> Iterator[None]:
    """Mark the code inside as having `seconds` left; an enclosing, earlier deadline still wins."""
    deadline = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)
