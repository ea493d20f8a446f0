"""Rate limits at the HTTP edge: a token bucket per caller, and one for the whole server.

Runs after authentication, so the caller is the verified principal (never a session id, which a
client can cycle); without authentication it is the client address. Refusals carry
`Retry-After`; each is built for its own wait (see `refusal.retry_later`).
"""

from __future__ import annotations

from collections.abc import Callable

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.types import ASGIApp, Receive, Scope, Send

from ..principal import principal_id
from ..refusal import retry_later, retry_seconds
from .token_bucket import Buckets, LimiterUnavailableError


def caller_key(scope: Scope) -> str:
    """The verified principal's id, else the client address."""
    user = scope.get("user")
    if isinstance(user, AuthenticatedUser):
        return "p:" + principal_id(user.access_token)
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


CALLER_LIMITED = "Too many requests from this caller; slow down."
OVERLOADED = "The server is at capacity; retry shortly."


class RateLimiter:
    """429 when a caller exceeds its bucket; 503 when the whole server does."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        buckets: Buckets,
        per_principal: tuple[float, int],
        overall: tuple[float, int],
        on_refusal: Callable[[str], None] = lambda _scope: None,
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.per_principal = per_principal
        self.overall = overall
        self.on_refusal = on_refusal
        """Told which bucket refused: caller, overall, or unavailable (the store is down, failing closed)."""
        self.unavailable = retry_later(503, "rate_limit_unavailable", "Rate limiting is unavailable; retry.", 1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rate, burst = self.per_principal
        try:
            wait = await self.buckets.take(caller_key(scope), rate, burst)
            overall_wait = 0.0 if wait else await self.buckets.take("overall", *self.overall)
        except LimiterUnavailableError:
            self.on_refusal("unavailable")
            await self.unavailable.send(scope, send)
            return
        if wait:
            self.on_refusal("caller")
            await retry_later(429, "rate_limited", CALLER_LIMITED, retry_seconds(wait)).send(scope, send)
            return
        if overall_wait:
            self.on_refusal("overall")
            await retry_later(503, "overloaded", OVERLOADED, retry_seconds(overall_wait)).send(scope, send)
            return
        await self.app(scope, receive, send)
