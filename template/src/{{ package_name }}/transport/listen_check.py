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

HOST_VARIABLE = f"{ENV_PREFIX}HTTP__HOST (or --host)"


def bind_problems(http: HttpSettings, metrics: tuple[str, int] | None) -> list[str]:
    """What stops the server from listening on its HTTP port and its metrics listener's address
    (`metrics`, None when /metrics is on the main port); empty when both are free."""
    problems = []
    served = f"{ENV_PREFIX}HTTP__PORT (or --port)"
    if (problem := bind_problem(http.host, http.port, served)) is not None:
        problems.append(problem)
    host_problem = problem is not None and problem.startswith(HOST_VARIABLE)
    if metrics is not None and metrics != (http.host, http.port) and not (host_problem and metrics[0] == http.host):
        host, port = metrics
        variable = f"{ENV_PREFIX}OBSERVABILITY__METRICS_PORT"
        host_variable = f"{ENV_PREFIX}OBSERVABILITY__METRICS_HOST" if host != http.host else HOST_VARIABLE
        if (problem := bind_problem(host, port, variable, host_variable)) is not None:
            problems.append(problem)
    return problems


def bind_problem(host: str, port: int, variable: str, host_variable: str = HOST_VARIABLE) -> str | None:
    """Why `host:port` cannot be listened on, worded for the variables that set it; None if it can."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        candidates = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return f"{host_variable}: {host!r} is not an address or a name this machine resolves"
    unavailable: OSError | None = None
    bound = False
    for family, kind, proto, _name, sockaddr in candidates:
        with socket.socket(family, kind, proto) as trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                trial.bind(sockaddr)
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:
                    return describe(exc, address, port, variable, host_variable)
                # As asyncio does: a family this machine has not enabled (::1 without IPv6) is skipped.
                unavailable = exc
            else:
                bound = True
    if unavailable is not None and not bound:
        return describe(unavailable, address, port, variable, host_variable)
    return None


def describe(exc: OSError, address: str, port: int, variable: str, host_variable: str = HOST_VARIABLE) -> str:
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
        return f"{host_variable}: {address} is not an address of this machine; use one it has, e.g. 127.0.0.1"
    return f"{variable}: cannot listen on {address} ({exc.strerror or type(exc).__name__})"
