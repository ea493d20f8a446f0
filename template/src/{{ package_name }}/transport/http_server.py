"""Run the HTTP app under uvicorn with the timeouts, limits and shutdown this server expects."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import uvicorn

from ..observability.exposition import Stoppable, serve_pod_metrics
from ..observability.metrics import SUPERVISOR_PID, multiprocess_dir
from ..settings import HttpSettings
from .shutdown import GracefulServer

EXIT_OK = 0
EXIT_FORCED = 1
EXIT_STARTUP_FAILED = 3


def uvicorn_options(http: HttpSettings) -> dict[str, Any]:
    """uvicorn settings derived from ours."""
    return {
        "host": http.host,
        "port": http.port,
        "log_config": None,  # loguru already owns logging
        "access_log": False,  # a formatted line per request costs ~20 % of the fast path
        "server_header": False,
        # The app applies X-Forwarded-* itself (ForwardedHeaders), after noting the real peer.
        "proxy_headers": False,
        "timeout_keep_alive": http.keep_alive_seconds,
        "timeout_graceful_shutdown": int(http.graceful_shutdown_seconds),
        "limit_concurrency": http.limit_concurrency,
    }


def serve_http(http: HttpSettings, app_factory: str, metrics: tuple[str, int] | None = None) -> int:
    """Serve until SIGTERM/SIGINT; return the exit code.

    In-flight requests get `graceful_shutdown_seconds`; a second signal forces exit. Each worker
    builds its own app from the environment (uvicorn's factory mode). With one worker a clean
    drain exits 0; with several, uvicorn's supervisor manages the workers and exits as uvicorn does.
    `app_factory` is the `module:function` each worker calls. `metrics` is the separate metrics
    listener's address: with workers this process serves it, once for the pod (each worker's
    app would clash on the port); with one process the app's lifespan does.
    """
    target = app_factory
    if http.workers > 1:
        # Workers share metrics through files (prometheus-client multiprocess mode); the variable
        # must be set before any worker imports prometheus_client.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="mcp-metrics-"))
    listener = pod_metrics(metrics)
    try:
        if http.workers > 1:
            uvicorn.run(target, factory=True, workers=http.workers, **uvicorn_options(http))
            return EXIT_OK
        server = GracefulServer(uvicorn.Config(target, factory=True, **uvicorn_options(http)))
        server.run()
    finally:
        if listener is not None:
            listener.shutdown()
    if not server.started:
        return EXIT_STARTUP_FAILED
    return EXIT_FORCED if server.force_exit else EXIT_OK


def pod_metrics(address: tuple[str, int] | None) -> Stoppable | None:
    """In multiprocess mode, start the pod's one metrics listener here, in the process that
    supervises the workers (their parent, whose process tree it reports)."""
    directory = multiprocess_dir()
    if directory is None:
        return None
    os.environ[SUPERVISOR_PID] = str(os.getpid())  # whose tree a worker reports on the main port
    return None if address is None else serve_pod_metrics(directory, os.getpid(), address)
