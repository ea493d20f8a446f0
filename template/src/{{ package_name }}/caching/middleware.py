"""The tool-call middleware that answers from the cache, stores fresh answers, and serves a
stale one (flagged) when the tool fails with a temporary error.

It runs after the exposure and scope checks (a caller never reads what it may not call) and
before per-tool rate limits and deadlines (a hit costs the upstream nothing). Every result a
cached tool returns says in `_meta.cache` how it may be reused: `ttlMs` (what is left of the
TTL), `cacheScope` (`public` for shared entries, `private` for per-caller ones), `hit`, `ageMs`
and `stale`. tools/call results carry no top-level `ttlMs` in the 2026-07-28 schema, so the
hint lives in `_meta`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from pydantic import BaseModel

from ..principal import current_principal
from .policy import ToolCache
from .stores import CacheStore

Outcome = Callable[[str, str], None]
"""Hears `(tool, "hit" | "miss" | "stale")` once per cached tool call."""

TEMPORARY_ERROR_TYPES = frozenset({"transient", "rate_limited"})
"""`error_type`s (see `toolkit.failures`) that a stale answer may stand in for."""


def now() -> float:
    """Wall-clock seconds: entries in Redis are read by other replicas' clocks."""
    return time.time()


def cache_key(tool: str, arguments: Mapping[str, Any], *, scope: str, version: str) -> str:
    """`<tool>:<sha256>` of the canonical arguments, the protocol version (results are shaped per
    version) and, for `caller` scope, the verified caller's issuer, subject and id."""
    caller: list[str | None] = []
    if scope == "caller":
        principal = current_principal()
        caller = [principal.issuer, principal.subject, principal.id]
    material = json.dumps(
        [tool, version, caller, arguments], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return f"{tool}:{hashlib.sha256(material.encode('utf-8')).hexdigest()}"


def response_cache(
    policies: Mapping[str, ToolCache],
    store: CacheStore,
    *,
    max_stale_seconds: float,
    prefix: str = "",
    on_outcome: Outcome = lambda _tool, _outcome: None,
) -> ServerMiddleware[Any]:
    """SDK middleware caching the results of the tools in `policies`."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params = ctx.params or {}
        name = params.get("name")
        policy = policies.get(name) if isinstance(name, str) else None
        arguments = params.get("arguments") or {}
        if policy is None or not isinstance(name, str) or not isinstance(arguments, Mapping):
            return await call_next(ctx)
        key = prefix + cache_key(name, arguments, scope=policy.scope, version=ctx.protocol_version)
        cached = decode(await store.get(key))
        started = now()
        if cached is not None and started - cached[0] < policy.ttl_seconds:
            on_outcome(name, "hit")
            age = max(0.0, started - cached[0])
            return annotate(cached[1], policy, age=age, hit=True)
        on_outcome(name, "miss")
        result = await call_next(ctx)
        wire = as_wire(result)
        stale_window = min(policy.stale_seconds, max_stale_seconds)
        if not wire.get("isError"):
            if isinstance(result, dict):  # the SDK's wire dict; a typed result is a refusal further in
                entry = json.dumps({"at": started, "result": result}, separators=(",", ":"))
                await store.set(key, entry, tool=name, keep_seconds=policy.ttl_seconds + stale_window)
                return annotate(json.loads(entry)["result"], policy, age=0.0, hit=False)
            return result
        if cached is not None and temporary(wire) and started - cached[0] <= policy.ttl_seconds + stale_window:
            on_outcome(name, "stale")
            return stale(name, cached[1], policy, age=started - cached[0])
        return result

    return middleware


def decode(entry: str | None) -> tuple[float, dict[str, Any]] | None:
    """`(stored_at, result)` of a stored entry; None for a miss or an entry this code cannot read."""
    if entry is None:
        return None
    try:
        data = json.loads(entry)
        at, result = float(data["at"]), data["result"]
    except (ValueError, KeyError, TypeError):
        return None
    return (at, result) if isinstance(result, dict) else None


def as_wire(result: HandlerResult) -> Mapping[str, Any]:
    if isinstance(result, BaseModel):
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return result if isinstance(result, Mapping) else {}


def temporary(wire: Mapping[str, Any]) -> bool:
    """Whether a failed result is one a stale answer may replace: the upstream is failing or
    paused by its breaker, or the tool's deadline passed. Input and fatal errors are not."""
    structured = wire.get("structuredContent")
    if not isinstance(structured, Mapping):
        return False
    return structured.get("error_type") in TEMPORARY_ERROR_TYPES or structured.get("error") == "timeout"


def annotate(
    result: dict[str, Any], policy: ToolCache, *, age: float, hit: bool, stale: bool = False
) -> dict[str, Any]:
    """`result` (a fresh copy the caller owns) with its `_meta.cache` hint."""
    left = 0 if stale else max(0, math.floor((policy.ttl_seconds - age) * 1000))
    meta = dict(result.get("_meta") or {})
    meta["cache"] = {
        "ttlMs": left,
        "cacheScope": "public" if policy.scope == "shared" else "private",
        "hit": hit,
        "ageMs": math.floor(age * 1000),
        "stale": stale,
    }
    return {**result, "_meta": meta}


def _restated(block: Any, old: dict[str, Any], new: dict[str, Any]) -> Any:
    """`block` with `new` in place of `old` when it is the text copy of `old`; else `block`."""
    if not isinstance(block, dict) or block.get("type") != "text":
        return block
    try:
        carried = json.loads(block.get("text", ""))
    except ValueError:
        return block
    if carried != old:
        return block
    return {**block, "text": json.dumps(new, separators=(",", ":"), ensure_ascii=False)}


def stale(tool: str, result: dict[str, Any], policy: ToolCache, *, age: float) -> dict[str, Any]:
    """The last good answer, flagged: a text block the model reads, `stale`/`stale_age_seconds`
    in structured content when the tool's result declares them, and `_meta.cache.stale`."""
    seconds = math.floor(age)
    structured = result.get("structuredContent")
    content = list(result.get("content") or [])
    if isinstance(structured, dict) and "stale" in structured:
        flagged = {**structured, "stale": True, "stale_age_seconds": seconds}
        result["structuredContent"] = flagged
        # The text copy of the structured result says the same, so a model reading text sees it too.
        content = [_restated(block, structured, flagged) for block in content]
    notice = (
        f"Stale: {tool} failed with a temporary error, so this is its last good answer, {seconds} s old. "
        "Tell the user it may be out of date."
    )
    result["content"] = [*content, {"type": "text", "text": notice}]
    return annotate(result, policy, age=age, hit=True, stale=True)
