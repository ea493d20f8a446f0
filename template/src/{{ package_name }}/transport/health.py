"""Liveness and readiness routes, outside the MCP endpoint and never authenticated.

`/healthz` answers while the process can serve HTTP and checks nothing else, so an outage of
a dependency never gets the pod restarted. `/readyz` runs the registered dependency checks
and fails from the moment shutdown starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when the dependency is usable, else a short reason (never a secret)."""

CHECK_TIMEOUT_SECONDS = 2.0


class Readiness:
    """Whether this process should receive traffic."""

    def __init__(
        self,
        checks: Mapping[str, ReadinessCheck],
        *,
        advisory: Iterable[str] = (),
        stopping: Callable[[], bool],
        on_evaluated: Callable[[bool], None] = lambda _ready: None,
    ) -> None:
        """`checks` by name; a problem in one makes the server not ready unless it is `advisory`
        (then it shows in the detail only). `stopping` says whether shutdown has begun;
        `on_evaluated` hears every verdict (the readiness metrics)."""
        self._checks = {name: (check, name not in set(advisory)) for name, check in checks.items()}
        self.started = False
        self.stopping = stopping
        self.on_evaluated = on_evaluated

    async def report(self) -> tuple[bool, dict[str, str]]:
        """Run every check (bounded in time) and say whether the server should get traffic."""
        results: dict[str, str] = {}
        ok = True
        for name, (check, fatal) in self._checks.items():
            with anyio.move_on_after(CHECK_TIMEOUT_SECONDS) as scope:
                problem = await check()
            if scope.cancelled_caught:
                problem = "timed out"
            results[name] = problem or "ok"
            ok = ok and (problem is None or not fatal)
        if not self.started:
            results["server"], ok = "starting", False
        elif self.stopping():
            results["server"], ok = "shutting down", False
        self.on_evaluated(ok)
        return ok, results


def health_router(readiness: Readiness) -> APIRouter:
    """Routes for `/healthz` and `/readyz`."""
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})  # a new response each time: its header list is the caller's

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ok, checks = await readiness.report()
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
            headers=None if ok else {"Retry-After": "1"},
        )

    return router
