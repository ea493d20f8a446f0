"""Token buckets in process memory: `take` answers how long to wait (0 means allowed)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import NamedTuple, Protocol


class LimiterUnavailableError(RuntimeError):
    """The shared bucket store cannot be reached and is configured to fail closed."""


class Take(NamedTuple):
    """One bucket a request draws from."""

    key: Hashable
    rate: float
    burst: int
    cost: float = 1.0


class Buckets(Protocol):
    """A store of token buckets; the Redis backend implements the same call."""

    async def take(self, key: Hashable, rate: float, burst: int, cost: float = 1.0) -> float:
        """Take `cost` tokens from the bucket `key`; return 0 if allowed, else seconds until it would be.

        Raises:
            LimiterUnavailableError: the store is down and configured to fail closed.
        """

    async def take_all(self, takes: Sequence[Take]) -> tuple[int, float]:
        """Take from each bucket in order, stopping at the first that refuses (those before it keep
        their take, as separate `take` calls would): `(-1, 0.0)` when all allowed, else the refusing
        bucket's index and its wait in seconds. The Redis backend answers in one round trip.

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

    async def take_all(self, takes: Sequence[Take]) -> tuple[int, float]:
        for index, (key, rate, burst, cost) in enumerate(takes):
            wait = await self.take(key, rate, burst, cost)
            if wait:
                return index, wait
        return -1, 0.0
