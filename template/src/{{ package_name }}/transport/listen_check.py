"""Before serving, try the addresses the server will listen on, so a taken port is a clear message.

uvicorn reports a taken port as a bare `[Errno 98] ... address already in use` log line (once per
worker) and exits 1, naming no setting. The check binds each address the way uvicorn does
(`SO_REUSEADDR`, so a port in TIME_WAIT still counts as free), releases it at once, and turns
each failure into a line naming the variable and the option that change it.
"""

from __future__ import annotations

import errno
import socket

from ..project import ENV_PREFIX
from ..settings import HttpSettings


def bind_problems(http: HttpSettings, metrics_port: int | None) -> list[str]:
    """What stops the server from listening on its HTTP (and metrics) port; empty when both are free."""
    problems = []
    served = f"{ENV_PREFIX}HTTP__PORT (or --port)"
    if (problem := bind_problem(http.host, http.port, served)) is not None:
        problems.append(problem)
    if metrics_port is not None and metrics_port != http.port:
        metrics = f"{ENV_PREFIX}OBSERVABILITY__METRICS_PORT"
        if (problem := bind_problem(http.host, metrics_port, metrics)) is not None:
            problems.append(problem)
    return problems


def bind_problem(host: str, port: int, variable: str) -> str | None:
    """Why `host:port` cannot be listened on, worded for the variable that sets it; None if it can."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        candidates = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return f"{ENV_PREFIX}HTTP__HOST (or --host): {host!r} is not an address or a name this machine resolves"
    unavailable: OSError | None = None
    bound = False
    for family, kind, proto, _name, sockaddr in candidates:
        with socket.socket(family, kind, proto) as trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                trial.bind(sockaddr)
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:
                    return describe(exc, address, port, variable)
                # As asyncio does: a family this machine has not enabled (::1 without IPv6) is skipped.
                unavailable = exc
            else:
                bound = True
    return describe(unavailable, address, port, variable) if unavailable is not None and not bound else None


def describe(exc: OSError, address: str, port: int, variable: str) -> str:
    """The bind failure as an instruction."""
    if exc.errno == errno.EADDRINUSE:
        free = port + 1 if port < 65535 else 8000
        return (
            f"{variable}: {address} is already in use by another process; stop that process "
            f"(`ss -ltnp` shows which) or choose a free port, e.g. {free}"
        )
    if exc.errno == errno.EACCES:
        return f"{variable}: listening on {address} needs privileges this process lacks; use a port of 1024 or above"
    if exc.errno == errno.EADDRNOTAVAIL:
        host = f"{ENV_PREFIX}HTTP__HOST (or --host)"
        return f"{host}: {address} is not an address of this machine; use one it has, e.g. 127.0.0.1"
    return f"{variable}: cannot listen on {address} ({exc.strerror or type(exc).__name__})"
