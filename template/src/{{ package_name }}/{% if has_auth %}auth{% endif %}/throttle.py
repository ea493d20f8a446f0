"""Brute-force guard: clients that keep failing authentication are refused for a while.

Keyed by client address (uvicorn resolves it from X-Forwarded-For only for trusted proxies),
so guessing keys from one address is limited to `max_failures` per `window_seconds`.
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

    def record_failure(self, client: str) -> None:
        """Count one failed attempt."""
        self._buckets[client] = (self._level(client) + 1, self._clock())
        self._buckets.move_to_end(client)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)

    def _level(self, client: str) -> float:
        entry = self._buckets.get(client)
        if entry is None:
            return 0.0
        level, at = entry
        return max(0.0, level - (self._clock() - at) * self._leak_per_second)
