"""The brute-force guard's buckets in Redis: failures counted on any replica lock the address out
on all of them.

One script per failure, timed by the Redis clock (skewed replica clocks cannot shorten a lockout).
Every call is bounded by `timeout_seconds`; when Redis does not answer, the failure is counted on
this replica instead (the guard degrades to per-process, and it never refuses a valid credential).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .throttle import FailureThrottle

# KEYS[1] bucket; ARGV capacity, leak per millisecond. Returns the lockout in seconds (0: none).
FAIL = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local capacity = tonumber(ARGV[1])
local leak = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(state[1]) or 0
local ts = tonumber(state[2]) or now
level = math.max(0, level - (now - ts) * leak)
level = math.min(level + 1, 2 * capacity)
redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(2 * capacity / leak) + 1000)
local excess = level - capacity
if excess <= 0 then return 0 end
return math.max(1, math.ceil(excess / leak / 1000))
"""


class RedisFailureThrottle(FailureThrottle):
    """A `FailureThrottle` whose buckets every replica shares."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        max_failures: int,
        window_seconds: float,
        timeout_seconds: float = 0.25,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if clock is None:
            super().__init__(max_failures=max_failures, window_seconds=window_seconds)
        else:
            super().__init__(max_failures=max_failures, window_seconds=window_seconds, clock=clock)
        self._redis = redis
        self._prefix = prefix
        self._timeout = timeout_seconds
        self._script = redis.register_script(FAIL)
        self._leak_per_ms = max_failures / window_seconds / 1000

    async def failure(self, client: str) -> int:
        # Hashed: the Redis key names no address.
        key = f"{self._prefix}authfail:{hashlib.sha256(client.encode()).hexdigest()}"
        try:
            async with asyncio.timeout(self._timeout):
                locked = await self._script(keys=[key], args=[self._capacity, repr(self._leak_per_ms)])
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            logger.warning("lockout store unreachable; failure counted on this replica: {}", type(exc).__name__)
            return self.record_failure(client)
        return int(locked)

    async def aclose(self) -> None:
        await self._redis.aclose()
