"""Idempotency keys: a retried destructive call has one effect and gets the first call's result.

2026-07-28 removed stream resumption, so a client that loses a response re-sends the call with
a new JSON-RPC id; without a key, a side-effecting tool would run twice. Entries are kept per
process for `ttl_seconds`; with several replicas, route retries by key or back this with a
shared store.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")


class IdempotencyKeyReusedError(ValueError):
    """The key was already used for a call with different arguments."""


class IdempotencyInProgressError(RuntimeError):
    """A call with the same key is still running."""


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
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[Hashable, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def run(
        self,
        key: Hashable,
        fingerprint: str,
        operation: Callable[[], Awaitable[T]],
    ) -> T:
        """Run `operation` once per key; replay its result for a retry with the same fingerprint.

        Raises:
            IdempotencyKeyReusedError: the key was used with another fingerprint (other arguments).
            IdempotencyInProgressError: the first call with this key has not finished yet.
        """
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
