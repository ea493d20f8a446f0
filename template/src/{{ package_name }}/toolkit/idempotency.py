"""Idempotency keys: a retried destructive call has one effect and gets the first call's result.

2026-07-28 removed stream resumption, so a client that loses a response re-sends the call with
a new JSON-RPC id; without a key, a side-effecting tool would run twice. Entries are kept for
`ttl_seconds`: per process by default, or in Redis (`STATE__BACKEND=redis`, see
`idempotency_redis.py`) so a retry that lands on another replica still gets the first result.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

T = TypeVar("T")


class IdempotencyKeyReusedError(ValueError):
    """The key was already used for a call with different arguments."""


class IdempotencyInProgressError(RuntimeError):
    """A call with the same key is still running."""


class IdempotencyUnavailableError(IdempotencyInProgressError):
    """The shared store cannot be reached: the call was not run (never unguarded); retry shortly."""


class SharedIdempotency(Protocol):
    """A store every replica sees (`idempotency_redis.RedisIdempotency` implements it)."""

    async def run(
        self,
        key: Hashable,
        fingerprint: str,
        operation: Callable[[], Awaitable[T]],
        *,
        ttl_seconds: float,
        result_type: type[T] | None,
    ) -> T: ...


_shared: ContextVar[SharedIdempotency | None] = ContextVar("shared_idempotency", default=None)


@contextmanager
def shared_store(store: SharedIdempotency | None) -> Iterator[None]:
    """Every `IdempotencyCache` built inside this block uses `store` (the app wraps `open_services`
    in it when STATE__BACKEND=redis, so a project's own services need no change)."""
    token = _shared.set(store)
    try:
        yield
    finally:
        _shared.reset(token)


@dataclass
class _Entry:
    fingerprint: str
    expires_at: float
    done: bool = False
    result: Any = field(default=None)


class IdempotencyCache:
    """Remembers the outcome of keyed operations for a while."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedIdempotency | None = None,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}
        self._shared = shared if shared is not None else _shared.get()

    @property
    def is_shared(self) -> bool:
        """Whether entries live in a store every replica sees."""
        return self._shared is not None

    def __len__(self) -> int:
        return len(self._entries)

    async def run(
        self,
        key: Hashable,
        fingerprint: str,
        operation: Callable[[], Awaitable[T]],
        *,
        result_type: type[T] | None = None,
    ) -> T:
        """Run `operation` once per key; replay its result for a retry with the same fingerprint.

        With a shared store the result travels as JSON: pass `result_type` (a dataclass, a pydantic
        model, ...) to get the same type back on a replay; without it a replay returns plain JSON
        values. Keys are made of strings, numbers and tuples of them.

        Raises:
            IdempotencyKeyReusedError: the key was used with another fingerprint (other arguments).
            IdempotencyInProgressError: the first call with this key has not finished yet, or
                (`IdempotencyUnavailableError`) the shared store did not answer.
        """
        if self._shared is not None:
            return await self._shared.run(key, fingerprint, operation, ttl_seconds=self._ttl, result_type=result_type)
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at <= now:
            del self._entries[key]
            entry = None
        if entry is not None:
            if entry.fingerprint != fingerprint:
                raise IdempotencyKeyReusedError("idempotency key already used with different arguments")
            if not entry.done:
                raise IdempotencyInProgressError("a call with this idempotency key is still running")
            # A copy: the stored result is the caller's as much as the retry's, and neither may
            # change what the other (or a later retry) gets back.
            return cast("T", copy.deepcopy(entry.result))

        self._make_room(now)
        entry = _Entry(fingerprint=fingerprint, expires_at=now + self._ttl)
        self._entries[key] = entry
        try:
            result = await operation()
        except BaseException:
            # A failed or cancelled call had no effect worth replaying: let the retry run it.
            self._entries.pop(key, None)
            raise
        entry.done = True
        entry.result = copy.deepcopy(result)
        return result

    def _make_room(self, now: float) -> None:
        if len(self._entries) < self._max_entries:
            return
        for key in [k for k, e in self._entries.items() if e.done and e.expires_at <= now]:
            del self._entries[key]
        while len(self._entries) >= self._max_entries:
            # Forget the oldest finished entry (dicts keep insertion order).
            oldest = next((k for k, e in self._entries.items() if e.done), None)
            if oldest is None:
                raise IdempotencyInProgressError("too many keyed calls are running at once; retry shortly")
            del self._entries[oldest]
