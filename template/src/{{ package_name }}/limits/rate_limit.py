"""Rate limits at the HTTP edge: a token bucket per caller, one for the whole server, and the
called tool's own bucket when its routing headers name it, all taken in one call to the store.

Runs after authentication, so the caller is the verified principal (never a session id, which a
client can cycle); without authentication it is the client address. Refusals carry
`Retry-After`; each is built for its own wait (see `refusal.retry_later`).

A 2026-07-28 `tools/call` names its tool in `Mcp-Name` (the SDK refuses a request whose headers
disagree with its body), so the tool's bucket joins the same take instead of costing a second
round trip to Redis from the tool layer. Its verdict travels in the request scope
(`TOOL_TAKE`) to `tool_limits`, which answers a refusal as a tool result, as it always has.
Older eras name the tool only in the body: the tool layer takes that bucket itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Receive, Scope, Send

from ..principal import LOCAL, principal_id
from ..refusal import retry_later, retry_seconds
from .token_bucket import Buckets, LimiterUnavailableError, Take

TOOL_TAKE = "mcp_server.tool_take"
"""Scope key: `(tool name, seconds to wait)` once the edge has taken that tool's bucket (0 = allowed)."""

_HANDSHAKE_VERSIONS = frozenset(v.encode() for v in HANDSHAKE_PROTOCOL_VERSIONS)


def caller_key(scope: Scope) -> str:
    """The verified principal's id, else the client address."""
    user = scope.get("user")
    if isinstance(user, AuthenticatedUser):
        return "p:" + principal_id(user.access_token)
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


def tool_bucket_key(principal: str, tool: str) -> tuple[str, str, str]:
    """The bucket of one caller's calls to one tool (the edge and the tool layer use the same key)."""
    return ("tool", principal, tool)


def routed_tool(scope: Scope) -> str | None:
    """The tool a 2026-07-28 `tools/call` names in its routing headers; None in older eras."""
    version: bytes | None = None
    method: bytes | None = None
    name: bytes | None = None
    for header, value in scope["headers"]:
        if header == b"mcp-protocol-version":
            version = value
        elif header == b"mcp-method":
            method = value
        elif header == b"mcp-name":
            name = value
    if version is None or version in _HANDSHAKE_VERSIONS or method != b"tools/call" or not name:
        return None
    return name.decode("latin-1")


CALLER_LIMITED = "Too many requests from this caller; slow down."
OVERLOADED = "The server is at capacity; retry shortly."


class RateLimiter:
    """429 when a caller exceeds its bucket; 503 when the whole server does. A routed tool's
    bucket is taken too (last), and its verdict left in the scope for the tool layer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: Buckets,
        per_principal: tuple[float, int],
        overall: tuple[float, int],
        tool_rates: Mapping[str, tuple[float, int]] | None = None,
        on_refusal: Callable[[str], None] = lambda _scope: None,
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.per_principal = per_principal
        self.overall = overall
        self.overall_take = Take("overall", *overall)  # immutable: shared by every request
        self.tool_rates = dict(tool_rates or {})
        """Only the tools with a rate of their own: a request for any other tool skips the lookup."""
        self.on_refusal = on_refusal
        """Told which bucket refused: caller, overall, or unavailable (the store is down, failing closed)."""
        self.unavailable = retry_later(503, "rate_limit_unavailable", "Rate limiting is unavailable; retry.", 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rate, burst = self.per_principal
        takes = [Take(caller_key(scope), rate, burst), self.overall_take]
        tool = routed_tool(scope) if self.tool_rates else None
        if tool is not None and tool in self.tool_rates:
            takes.append(Take(tool_bucket_key(edge_principal(scope), tool), *self.tool_rates[tool]))
        else:
            tool = None
        try:
            refused, wait = await self.buckets.take_all(takes)
        except LimiterUnavailableError:
            self.on_refusal("unavailable")
            await self.unavailable.send(scope, send)
            return
        if refused == 0:
            self.on_refusal("caller")
            await retry_later(429, "rate_limited", CALLER_LIMITED, retry_seconds(wait)).send(scope, send)
            return
        if refused == 1:
            self.on_refusal("overall")
            await retry_later(503, "overloaded", OVERLOADED, retry_seconds(wait)).send(scope, send)
            return
        if tool is not None:
            scope[TOOL_TAKE] = (tool, wait)  # this request's own scope: nothing shared is changed
        await self.app(scope, receive, send)


def edge_principal(scope: Scope) -> str:
    """The id `current_principal()` gives the tool layer for this request's verified caller."""
    user = scope.get("user")
    return principal_id(user.access_token) if isinstance(user, AuthenticatedUser) else LOCAL.id
