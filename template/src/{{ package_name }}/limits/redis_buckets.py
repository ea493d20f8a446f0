"""Token buckets in Redis: one atomic script per request for all of its buckets (caller, overall,
tool), timed by the Redis clock, so N replicas enforce one limit, not N (and skewed replica clocks
cannot stretch it), at the cost of one round trip.

Every call to Redis is bounded by `timeout_seconds`, and after a failure a small circuit stops
waiting on it: takes fail at once (open or closed per `when_unreachable`) without touching Redis, and at
most one take per `retry_seconds` probes it again. A frozen Redis therefore costs one request one
timeout, not every request one.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Literal

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .token_bucket import LimiterUnavailableError, Take

# KEYS: the buckets, in order; ARGV: rate, burst, cost for each. Takes from each in turn and stops
# at the first that refuses (those before it keep their take, as separate takes would). Returns
# {1-based index of the refusing bucket, milliseconds to wait}; {0, 0} when every bucket allowed.
# Redis TIME, not the caller's clock: every replica sees the same time. One script call per
# request, whatever the number of buckets: one round trip, not one per bucket.
TAKE_ALL = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3 * i - 2]) / 1000
  local burst = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil then
    tokens = burst
    ts = now
  end
  tokens = math.min(burst, tokens + (now - ts) * rate)
  local wait = 0
  if tokens >= cost then
    tokens = tokens - cost
  else
    wait = math.ceil((cost - tokens) / rate)
  end
  redis.call('HSET', key, 'tokens', tokens, 'ts', now)
  redis.call('PEXPIRE', key, math.ceil(burst / rate) + 1000)
  if wait > 0 then
    return {i, wait}
  end
end
return {0, 0}
"""

WARNING_INTERVAL_SECONDS = 10.0


class RedisBuckets:
    """Buckets shared by every replica through Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        when_unreachable: Literal["allow", "deny"],
        timeout_seconds: float = 0.1,
        retry_seconds: float = 1.0,
        on_failure: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(TAKE_ALL)
        self._when_unreachable = when_unreachable
        self._failing = "open" if when_unreachable == "allow" else "closed"
        self._timeout = timeout_seconds
        self._retry = retry_seconds
        self._clock = clock
        self.on_failure = on_failure
        """Told of every take Redis did not answer, fast-failed ones included (each was let through
        or refused per `when_unreachable` without a shared limit)."""
        self.last_error: str | None = None
        """Why the last call to Redis failed, while the circuit is open; None once Redis answers."""
        self._down_since = 0.0
        self._next_probe = 0.0
        self._unanswered = 0
        self._last_logged = -math.inf

    async def take(self, key: Hashable, rate: float, burst: int, cost: float = 1.0) -> float:
        return (await self.take_all((Take(key, rate, burst, cost),)))[1]

    async def take_all(self, takes: Sequence[Take]) -> tuple[int, float]:
        if self.last_error is not None:
            now = self._clock()
            if now < self._next_probe:
                return self._unanswered_take(None)
            # This take is the probe; concurrent ones keep failing fast until it is answered.
            self._next_probe = now + self._retry
        keys = [f"{self._prefix}{take.key}" for take in takes]
        args = [value for take in takes for value in (take.rate, take.burst, take.cost)]
        try:
            # The socket timeouts bound one read; this bounds the whole call (connect, retries,
            # a pool wait), and a cancelled read drops its connection rather than reusing it.
            # asyncio's timeout, not anyio's: this runs on every request, and the server is asyncio.
            async with asyncio.timeout(self._timeout):
                index, wait_ms = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            self._failed(exc)
            return self._unanswered_take(exc)
        self._answered()
        return int(index) - 1, float(wait_ms) / 1000

    async def readiness(self) -> str | None:
        """None when Redis answers, else why not (fatal to readiness only when failing closed).

        The ping is bounded like a take, and its answer closes the circuit at once (the next take
        need not wait for a probe); its failure opens it.
        """
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.ping()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return self.problem()
        self._answered()
        return None

    def problem(self) -> str | None:
        """The readiness detail while the circuit is open: what failed and which way takes fail."""
        if self.last_error is None:
            return None
        state = "degraded" if self._when_unreachable == "allow" else "unavailable"
        return f"{state}: redis unreachable ({self.last_error}); failing {self._failing}"

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _unanswered_take(self, exc: BaseException | None) -> tuple[int, float]:
        self._unanswered += 1
        self.on_failure()
        if self._when_unreachable == "deny":
            raise LimiterUnavailableError(self.last_error) from exc
        return -1, 0.0

    def _failed(self, exc: BaseException) -> None:
        now = self._clock()
        if self.last_error is None:
            self._down_since = now
        self.last_error = type(exc).__name__
        self._next_probe = now + self._retry
        if now - self._last_logged >= WARNING_INTERVAL_SECONDS:  # one line per 10 s, not one per request
            self._last_logged = now
            logger.warning(
                "Rate-limit backend unreachable ({}); failing {}, retrying every {} s",
                self.last_error,
                self._failing,
                self._retry,
            )

    def _answered(self) -> None:
        if self.last_error is None:
            return
        logger.info(
            "Rate-limit backend reachable again after {:.1f} s ({} takes failed {} meanwhile)",
            self._clock() - self._down_since,
            self._unanswered,
            self._failing,
        )
        self.last_error = None
        self._unanswered = 0
