"""Send MCP endpoint requests straight to the endpoint's own middleware chain.

FastAPI's error, telemetry and body-limit middleware, its router and exit stack cost a
measurable share of a fast MCP call and add nothing there: the endpoint chain answers every
outcome itself. Other paths (health, metrics, metadata) go through FastAPI as usual.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


class FastPathApp(FastAPI):
    """FastAPI that hands its MCP path to a pure ASGI endpoint before any of its own machinery."""

    _endpoint: ASGIApp | None = None
    _paths: frozenset[str] = frozenset()

    def serve_directly(self, path: str, endpoint: ASGIApp) -> None:
        """Answer `path` (and `path/`) with `endpoint`, bypassing FastAPI."""
        self._endpoint = endpoint
        self._paths = frozenset({path, path + "/"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._endpoint is not None and scope["type"] == "http" and scope["path"] in self._paths:
            scope["app"] = self
            await self._endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
