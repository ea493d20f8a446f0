"""Run the HTTP app under uvicorn with the timeouts, limits and shutdown this server expects."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import uvicorn

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


def serve_http(http: HttpSettings, app_factory: str) -> int:
    """Serve until SIGTERM/SIGINT; return the exit code.

    In-flight requests get `graceful_shutdown_seconds`; a second signal forces exit. Each worker
    builds its own app from the environment (uvicorn's factory mode). With one worker a clean
    drain exits 0; with several, uvicorn's supervisor manages the workers and exits as uvicorn does.
    `app_factory` is the `module:function` each worker calls.
    """
    target = app_factory
    if http.workers > 1:
        # Workers share metrics through files (prometheus-client multiprocess mode); the variable
        # must be set before any worker imports prometheus_client.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="mcp-metrics-"))
        uvicorn.run(target, factory=True, workers=http.workers, **uvicorn_options(http))
        return EXIT_OK
    server = GracefulServer(uvicorn.Config(target, factory=True, **uvicorn_options(http)))
    server.run()
    if not server.started:
        return EXIT_STARTUP_FAILED
    return EXIT_FORCED if server.force_exit else EXIT_OK
