"""Brute-force guard: an address that keeps presenting invalid credentials is told to back off.

Keyed by client address (X-Forwarded-For is believed only from trusted proxies). Past
`max_failures` per `window_seconds`, invalid credentials from the address get 429 with
Retry-After instead of 401. It never refuses a valid credential: many callers share an address
(NAT, a proxy), and one of them guessing must not lock the others out. Guessing itself is
bounded by the credentials (256-bit API keys, signed tokens), not by this guard. With
STATE__BACKEND=redis the buckets live in Redis (`throttle_redis.py`), so a lockout holds on
every replica.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class FailureThrottle:
    """A leaky bucket of authentication failures per client."""

    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(max_failures)
        self._leak_per_second = max_failures / window_seconds
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again (0 when it may try now)."""
        # Locked while one more failure would overflow the bucket.
        excess = self._level(client) + 1 - self._capacity
        return max(1, math.ceil(excess / self._leak_per_second)) if excess > 0 else 0

    async def failure(self, client: str) -> int:
        """`record_failure`, as the middleware calls it (the shared throttle asks Redis here)."""
        return self.record_failure(client)

    async def aclose(self) -> None:
        """Release what the throttle holds (nothing in process; the Redis client when shared)."""
        return

    def record_failure(self, client: str) -> int:
        """Count one failed attempt; return the seconds `client` is now locked out for (0: not locked)."""
        # Capped, so an address that keeps guessing stays locked but for at most one more window.
        level = min(self._level(client) + 1, 2 * self._capacity)
        self._buckets[client] = (level, self._clock())
        self._buckets.move_to_end(client)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        excess = level - self._capacity
        return max(1, math.ceil(excess / self._leak_per_second)) if excess > 0 else 0

    def _level(self, client: str) -> float:
        entry = self._buckets.get(client)
        if entry is None:
            return 0.0
        level, at = entry
        return max(0.0, level - (self._clock() - at) * self._leak_per_second)
