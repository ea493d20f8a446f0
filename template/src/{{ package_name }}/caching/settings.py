"""Settings of the response cache, read as `{PREFIX}CACHE__<FIELD>` (template-owned)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class CacheSettings(BaseModel):
    """Where cached tool results live, how many, and how long lists may be cached by clients."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    enabled: bool = True
    """Serve tools that declare `cache=ToolCache(...)` from the cache (false: every call runs)."""

    backend: Literal["memory", "redis"] = "memory"
    """`memory`: a bounded LRU per process; `redis`: one cache shared by every replica (needs the `redis` extra)."""

    max_entries: int = Field(default=10_000, ge=1, le=10_000_000)
    """Entries the memory backend keeps; the least recently used goes first (counted as evictions)."""

    max_stale_seconds: float = Field(default=3600.0, ge=0.0, le=7 * 24 * 3600.0)
    """Upper bound on any tool's stale-if-error window; 0 turns stale answers off everywhere."""

    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    """Redis for the shared cache (credentials allowed; they are masked in check-config and logs)."""

    redis_key_prefix: str = Field(default="mcp:cache:", min_length=1, max_length=64)
    """Prefix of every cache key, so several servers can share one Redis."""

    backend_timeout_seconds: float = Field(default=0.1, gt=0, le=5)
    """Longest a call waits for Redis; past it (or on any Redis error) the call runs uncached."""

    list_ttl_seconds: int = Field(default=300, ge=0, le=86_400)
    """`ttlMs` on tools/prompts/resources lists (2026-07-28 clients): lists change only on a
    deploy or an exposure change. Scope is `private` when callers are authenticated (lists are
    filtered per caller's scopes), `public` otherwise."""
