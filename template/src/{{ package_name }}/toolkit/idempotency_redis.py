"""Idempotency keys in Redis: a retried keyed call runs once whichever replica receives it.

One hash per key (`<prefix>idem:<sha256 of the key>`): the arguments' fingerprint, `running` with
the owner's random token while the first call runs (a lease, so a replica that dies mid-call
does not block the key for the whole TTL), then `done` with the result as JSON for `ttl_seconds`.
Claiming, finishing and releasing are each one script, so two replicas cannot both claim a key,
and only the claimant may finish or release it. Every call is bounded by `timeout_seconds`; an
unanswered claim refuses the call (`IdempotencyUnavailableError`) rather than running it unguarded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import secrets
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

from loguru import logger
from pydantic import TypeAdapter
from pydantic_core import to_json
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .idempotency import IdempotencyInProgressError, IdempotencyKeyReusedError, IdempotencyUnavailableError

T = TypeVar("T")

# KEYS[1] entry; ARGV fingerprint, token, lease ms. Returns {} when claimed, else {state, fingerprint, result}.
CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'running', 'fingerprint', ARGV[1], 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {}
end
return redis.call('HMGET', KEYS[1], 'state', 'fingerprint', 'result')
"""

# KEYS[1] entry; ARGV token, result JSON, ttl ms. 1 when stored (the claim was still ours).
FINISH = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'result', ARGV[2])
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1] entry; ARGV token. Forgets a claim whose call failed, so a retry may run it.
RELEASE = """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

DEFAULT_LEASE_SECONDS = 600.0
"""How long a claim outlives a replica that died mid-call; above any tool deadline."""


class RedisIdempotency:
    """The shared store behind `IdempotencyCache` when STATE__BACKEND=redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        timeout_seconds: float = 0.25,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._timeout = timeout_seconds
        self._lease_ms = math.ceil(lease_seconds * 1000)
        self._claim = redis.register_script(CLAIM)
        self._finish = redis.register_script(FINISH)
        self._release = redis.register_script(RELEASE)

    def key_of(self, key: Hashable) -> str:
        # repr of strings, numbers and tuples is the same in every process; hashed so a key holds
        # nothing of the caller in Redis and has a bounded length.
        return f"{self._prefix}idem:{hashlib.sha256(repr(key).encode()).hexdigest()}"

    async def run(
        self,
        key: Hashable,
        fingerprint: str,
        operation: Callable[[], Awaitable[T]],
        *,
        ttl_seconds: float,
        result_type: type[T] | None,
    ) -> T:
        entry, token = self.key_of(key), secrets.token_hex(16)
        try:
            async with asyncio.timeout(self._timeout):
                found = await self._claim(keys=[entry], args=[fingerprint, token, self._lease_ms])
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            logger.warning("idempotency store unreachable; keyed call refused: {}", type(exc).__name__)
            raise IdempotencyUnavailableError(
                "the idempotency store cannot be reached right now; retry in a moment"
            ) from None
        if found:
            return self._replay(cast("list[bytes | None]", found), fingerprint, result_type)
        try:
            result = await operation()
        except BaseException:
            # A failed or cancelled call had no effect worth replaying: let the retry run it.
            await self._call(self._release, entry, [token])
            raise
        stored = await self._call(self._finish, entry, [token, to_json(result), math.ceil(ttl_seconds * 1000)])
        if stored != 1:
            logger.warning("idempotency result not stored (Redis unreachable or the claim expired)")
        return result

    @staticmethod
    def _replay(found: list[bytes | None], fingerprint: str, result_type: type[T] | None) -> T:
        state, stored_fingerprint, result = found
        if stored_fingerprint is None or stored_fingerprint.decode() != fingerprint:
            raise IdempotencyKeyReusedError("idempotency key already used with different arguments")
        if state != b"done" or result is None:
            raise IdempotencyInProgressError("a call with this idempotency key is still running")
        if result_type is None:
            return cast("T", json.loads(result))
        return TypeAdapter(result_type).validate_json(result)

    async def _call(self, script: Any, entry: str, args: list[Any]) -> int | None:
        """A finishing step: its failure is logged, never raised (the call itself already ran)."""
        try:
            async with asyncio.timeout(self._timeout):
                return cast("int", await script(keys=[entry], args=args))
        except (RedisError, OSError) as exc:
            logger.warning("idempotency store unreachable after the call: {}", type(exc).__name__)
            return None
