"""Graceful shutdown: stop taking new MCP work, let in-flight calls of both eras finish, exit.

On SIGTERM uvicorn stops accepting connections and waits for open requests. Two things would
still go wrong without this module: sse-starlette ends every legacy (pre-2026) SSE response at
once, cutting in-flight tool calls, and nothing would refuse a new request arriving on an open
keep-alive connection. So: automatic SSE termination is turned off, a watcher notices the
shutdown, marks the server draining (readiness fails, new MCP requests get 503), waits for
in-flight requests up to the drain budget, and only then lets remaining SSE streams end.
Change-notification streams (`subscriptions/listen`) never end on their own: they are closed as
the drain starts, cleanly (each gets its final result), so they do not use up the budget.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import anyio
import uvicorn
from loguru import logger
from sse_starlette.sse import AppStatus
from starlette.types import ASGIApp, Receive, Scope, Send

from ..refusal import refusal

# We decide when legacy SSE streams end (after the drain), not sse-starlette's signal hook
# (what AppStatus.disable_automatic_graceful_drain() does, without its untyped call).
AppStatus.enable_automatic_graceful_drain = False

POLL_SECONDS = 0.05


def running_uvicorn_server() -> Any:
    """The uvicorn server handling SIGTERM in this process, if any (works for our CLI and plain uvicorn)."""
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return owner if hasattr(owner, "should_exit") else None


class Drain:
    """Shutdown state shared by the watcher, the gate and readiness."""

    def __init__(self, budget_seconds: float, on_start: Callable[[], None] | None = None) -> None:
        self.budget_seconds = budget_seconds
        self.draining = False
        self.on_start = on_start
        """Called as the drain starts: ends streams that would otherwise hold it open (listen streams)."""

    async def watch(self, wait_idle: Callable[[], Awaitable[None]]) -> None:
        """Run for the app's lifetime: on shutdown, drain, then release legacy SSE streams."""
        server = None
        while server is None or not server.should_exit:
            server = server or running_uvicorn_server()
            await anyio.sleep(POLL_SECONDS)
        self.draining = True
        logger.info("Shutdown started: draining in-flight MCP requests (up to {} s)", self.budget_seconds)
        if self.on_start is not None:
            self.on_start()
        with anyio.move_on_after(self.budget_seconds) as budget:
            await wait_idle()
        if budget.cancelled_caught:
            logger.warning("Drain budget of {} s ran out; remaining requests will be cut", self.budget_seconds)
        else:
            logger.info("Drained: no MCP request in flight")
        AppStatus.should_exit = True


class DrainGate:
    """Refuse new MCP requests with 503 and Retry-After while draining."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain
        self.refusal = refusal(
            503,
            "shutting_down",
            "This replica is shutting down; retry.",
            headers={"retry-after": "1", "connection": "close"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.drain.draining and scope["type"] == "http":
            await self.refusal.send(scope, send)
            return
        await self.app(scope, receive, send)


class GracefulServer(uvicorn.Server):
    """uvicorn, but a second SIGTERM or SIGINT forces exit, and a completed drain exits 0.

    Plain uvicorn re-raises the signal after shutting down (exit 143) and forces exit only on a
    second SIGINT.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # noqa: ARG002 - uvicorn's signature
        # A signal handler: only flag assignments here (no logging, no locks).
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True
