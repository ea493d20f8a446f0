"""Token buckets in process memory: `take` answers how long to wait (0 means allowed)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Protocol


class LimiterUnavailableError(RuntimeError):
    """The shared bucket store cannot be reached and is configured to fail closed."""


class Buckets(Protocol):
    """A store of token buckets; the Redis backend implements the same call."""

    async def take(self, key: Hashable, rate: float, burst: int, cost: float = 1.0) -> float:
        """Take `cost` tokens from the bucket `key`; return 0 if allowed, else seconds until it would be.

        Raises:
            LimiterUnavailableError: the store is down and configured to fail closed.
        """


class MemoryBuckets:
    """Buckets for one process. Least recently used buckets are dropped past `max_buckets`."""

    def __init__(self, *, max_buckets: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()
        self._max_buckets = max_buckets
        self._clock = clock

    async def take(self, key: Hashable, rate: float, burst: int, cost: float = 1.0) -> float:
        now = self._clock()
        tokens, updated = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - updated) * rate)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            self._buckets.move_to_end(key)
            if len(self._buckets) > self._max_buckets:
                self._buckets.popitem(last=False)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (cost - tokens) / rate
