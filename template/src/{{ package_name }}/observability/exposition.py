"""Serve /metrics: on a separate listener kept off the public ingress, or on the main app."""

from __future__ import annotations

from threading import Thread
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, start_http_server

from .metrics import Metrics, PodRegistry


class Stoppable(Protocol):
    def shutdown(self) -> None: ...


def metrics_router(metrics: Metrics) -> APIRouter:
    """`GET /metrics` in the Prometheus text format (never authenticated, never rate limited)."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def exposition() -> Response:
        return Response(generate_latest(metrics.exposition_registry()), media_type=CONTENT_TYPE_LATEST)

    return router


class Listener:
    """A running metrics listener; `shutdown()` stops its thread and closes its socket."""

    def __init__(self, server: WSGIServer, thread: Thread) -> None:
        self.server, self.thread = server, thread

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(registry: CollectorRegistry, address: tuple[str, int]) -> Stoppable:
    """Start the separate metrics listener on `address` (in a daemon thread)."""
    host, port = address
    server, thread = start_http_server(port, addr=host, registry=registry)
    return Listener(server, thread)


def serve_pod_metrics(directory: str, supervisor: int, address: tuple[str, int]) -> Stoppable:
    """The one metrics listener of a multiprocess pod, run by the process supervising the workers."""
    return serve_metrics(PodRegistry(directory, supervisor), address)
