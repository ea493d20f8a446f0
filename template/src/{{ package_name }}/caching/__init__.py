"""Per-tool response cache: what a tool declares, where entries live, and the tool-call middleware.

A tool opts in with `registry.tool(cache=ToolCache(ttl_seconds=..., scope=...))`. Entries are
keyed by tool name, canonical arguments, the protocol version and, for `caller` scope, the
verified caller, so one caller never reads another's answer.
"""

from .policy import ToolCache
from .stores import CacheStore, MemoryStore

__all__ = ["CacheStore", "MemoryStore", "ToolCache"]
