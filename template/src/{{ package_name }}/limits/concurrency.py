"""In-flight caps at the HTTP edge: per caller and overall, refused at once rather than queued.

Also the count of in-flight MCP work that a graceful shutdown waits on. A legacy `GET` stream
counts against the caps (each holds a connection) but not as work: it may stay open and idle
for as long as the client likes, and the drain closes it once the real work is done.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from ..refusal import retry_later
from .rate_limit import OVERLOADED, caller_key


class InFlight:
    """What is in flight now: per caller, overall, and open GET streams (what a drain waits on)."""

    def __init__(self) -> None:
        self.in_flight = 0
        """Requests doing work (everything but GET streams): what a drain waits for."""
        self.streams = 0
        """Open GET streams."""
        self.by_caller: dict[str, int] = {}
        self._idle = anyio.Event()
        self._idle.set()

    def enter(self, key: str, *, stream: bool) -> None:
        self.by_caller[key] = self.by_caller.get(key, 0) + 1
        if stream:
            self.streams += 1
        else:
            self.in_flight += 1
            if self.in_flight == 1:
                self._idle = anyio.Event()

    def leave(self, key: str, *, stream: bool) -> None:
        left = self.by_caller[key] - 1
        if left:
            self.by_caller[key] = left
        else:
            del self.by_caller[key]
        if stream:
            self.streams -= 1
        else:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no MCP request is doing work (open GET streams do not count)."""
        await self._idle.wait()


class ConcurrencyLimiter:
    """429 past `per_principal` requests in flight for one caller, 503 past `total` overall."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        counts: InFlight,
        per_principal: int,
        total: int,
        on_refusal: Callable[[str], None] = lambda _scope: None,
    ) -> None:
        self.app = app
        self.counts = counts
        self.per_principal = per_principal
        self.total = total
        self.on_refusal = on_refusal
        """Told which cap refused: caller or overall."""
        self.caller_refusal = retry_later(429, "too_many_concurrent_requests", "Too many requests in flight.", 1)
        self.overall_refusal = retry_later(503, "overloaded", OVERLOADED, 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counts = self.counts
        key = caller_key(scope)
        if counts.by_caller.get(key, 0) >= self.per_principal:
            self.on_refusal("caller")
            await self.caller_refusal.send(scope, send)
            return
        if counts.in_flight + counts.streams >= self.total:
            self.on_refusal("overall")
            await self.overall_refusal.send(scope, send)
            return
        stream = scope["method"] == "GET"
        counts.enter(key, stream=stream)
        try:
            await self.app(scope, receive, send)
        finally:
            counts.leave(key, stream=stream)
