"""Calling upstream HTTP APIs: pooled clients, deadline-bounded retries, a breaker per upstream.

Template-owned and free of MCP and HTTP-server code, so services use it directly:
`async with upstreams.open("name") as upstream: await upstream.get("/path")`.
"""

from .breaker import CircuitBreaker, CircuitOpenError, CircuitState
from .client import ErrorType, Upstream, UpstreamError, Upstreams
from .settings import UpstreamSettings

__all__ = [
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "ErrorType",
    "Upstream",
    "UpstreamError",
    "UpstreamSettings",
    "Upstreams",
]
