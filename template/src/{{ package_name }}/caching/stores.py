"""Where cache entries live: the `CacheStore` protocol and the bounded in-process LRU."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol


class CacheStore(Protocol):
    """A key-value store of serialized entries that forget themselves after `keep_seconds`."""

    async def get(self, key: str) -> str | None:
        """The entry under `key`, or None (absent, expired, or the store is unreachable)."""

    async def set(self, key: str, value: str, *, tool: str, keep_seconds: float) -> None:
        """Store `value` under `key` for `keep_seconds` (best effort)."""

    async def aclose(self) -> None:
        """Release connections."""


class MemoryStore:
    """A bounded LRU in this process; `on_evict(tool)` hears every entry pushed out by the bound."""

    def __init__(
        self,
        max_entries: int,
        *,
        on_evict: Callable[[str], None] = lambda _tool: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_entries = max_entries
        self._on_evict = on_evict
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str, str]] = OrderedDict()  # key -> (expires, tool, value)

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[2]

    async def set(self, key: str, value: str, *, tool: str, keep_seconds: float) -> None:
        self._entries[key] = (self._clock() + keep_seconds, tool, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            _key, (_expires, evicted_tool, _value) = self._entries.popitem(last=False)
            self._on_evict(evicted_tool)

    async def aclose(self) -> None:
        self._entries.clear()
