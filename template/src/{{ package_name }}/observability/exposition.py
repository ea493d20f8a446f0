"""Serve /metrics: on the main app by default, or on a separate port kept off the public ingress."""

from __future__ import annotations

from typing import Protocol

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server

from .metrics import Metrics


class Stoppable(Protocol):
    def shutdown(self) -> None: ...


def metrics_router(metrics: Metrics) -> APIRouter:
    """`GET /metrics` in the Prometheus text format (never authenticated, never rate limited)."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def exposition() -> Response:
        return Response(generate_latest(metrics.exposition_registry()), media_type=CONTENT_TYPE_LATEST)

    return router


def serve_metrics(metrics: Metrics, host: str, port: int | None) -> Stoppable | None:
    """Start the separate metrics listener when a port is configured."""
    if port is None:
        return None
    server, _thread = start_http_server(port, addr=host, registry=metrics.exposition_registry())
    return server
