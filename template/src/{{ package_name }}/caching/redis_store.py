"""The cache in Redis, shared by every replica: the same keys as the memory backend.

Any Redis failure or a reply slower than the timeout is a miss (get) or a skipped write (set):
a cache must never turn a working tool into a failing one. Entries expire by Redis `EX`;
evictions by Redis's own `maxmemory` policy are Redis's to report (`evicted_keys` in INFO).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from loguru import logger


class RedisStore:
    """`CacheStore` over a `redis.asyncio.Redis` client."""

    def __init__(self, redis: Any, *, timeout_seconds: float, on_failure: Callable[[], None] = lambda: None) -> None:
        self._redis = redis
        self._timeout = timeout_seconds
        self._on_failure = on_failure

    async def get(self, key: str) -> str | None:
        try:
            async with asyncio.timeout(self._timeout):
                value = await self._redis.get(key)
        except Exception:  # noqa: BLE001 - any Redis trouble is a miss, never a failed call
            self._failed("get")
            return None
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    async def set(self, key: str, value: str, *, tool: str, keep_seconds: float) -> None:
        del tool  # Redis counts its own evictions, not per tool
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.set(key, value, ex=max(1, math.ceil(keep_seconds)))
        except Exception:  # noqa: BLE001 - a write that fails leaves the next call a miss
            self._failed("set")

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _failed(self, operation: str) -> None:
        self._on_failure()
        logger.warning("Response cache: Redis {} failed or timed out; the call runs uncached", operation)
