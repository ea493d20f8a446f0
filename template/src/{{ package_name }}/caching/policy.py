"""What a tool declares about caching its answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class ToolCache:
    """Cache a tool's successful results.

    Only declare it on read-only tools whose answer depends on their arguments alone (`shared`)
    or on their arguments and the caller (`caller`). Errors are never cached.
    """

    ttl_seconds: float
    """How long a result is served without calling the tool again."""

    scope: Literal["shared", "caller"] = "caller"
    """`shared`: one entry for every caller (the answer does not depend on who asks);
    `caller`: one entry per verified caller (issuer and subject, or API key)."""

    stale_seconds: float = 0.0
    """How long past its TTL a result may still be returned, flagged stale, when the tool fails
    with a temporary error (upstream down, breaker open, deadline). 0 turns stale-if-error off;
    `CACHE__MAX_STALE_SECONDS` caps it."""

    def __post_init__(self) -> None:
        if not self.ttl_seconds > 0:
            raise ValueError(f"ToolCache ttl_seconds must be > 0, got {self.ttl_seconds!r}")
        if self.scope not in ("shared", "caller"):
            raise ValueError(f"ToolCache scope must be 'shared' or 'caller', got {self.scope!r}")
        if self.stale_seconds < 0:
            raise ValueError(f"ToolCache stale_seconds must be >= 0, got {self.stale_seconds!r}")
