"""Limits at the tool boundary: per-tool rate buckets per caller, and a deadline per call.

Refusals are tool results (`isError`) whose structured content says what happened and how
long to wait, so a model backs off instead of looping.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import CallToolResult, TextContent

from ..deadline import deadline_after
from ..principal import current_principal
from .rate_limit import TOOL_TAKE, tool_bucket_key
from .token_bucket import Buckets, LimiterUnavailableError


@dataclass(frozen=True)
class ToolBudget:
    """The effective limits of one tool."""

    timeout_seconds: float
    rate_per_second: float | None = None
    burst: int | None = None


def tool_rate(budget: ToolBudget) -> tuple[float, int] | None:
    """The tool's bucket as (rate per second, burst), or None when it has no rate of its own."""
    if budget.rate_per_second is None:
        return None
    return budget.rate_per_second, budget.burst or max(1, math.ceil(budget.rate_per_second))


def rated_tools(budgets: Mapping[str, ToolBudget]) -> dict[str, tuple[float, int]]:
    """The buckets of the tools that have a rate: what the HTTP edge takes with the caller's."""
    return {name: rate for name, budget in budgets.items() if (rate := tool_rate(budget)) is not None}


def edge_verdict(ctx: ServerRequestContext[Any, Any], name: str) -> float | None:
    """The wait the HTTP edge already took for this call of `name` (0 = allowed), else None."""
    taken = getattr(ctx.request, "scope", {}).get(TOOL_TAKE)
    return taken[1] if taken is not None and taken[0] == name else None


def refusal(text: str, **structured: Any) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured, is_error=True)


def tool_limits(budgets: Mapping[str, ToolBudget], default: ToolBudget, buckets: Buckets) -> ServerMiddleware[Any]:
    """SDK middleware applying each tool's rate and deadline."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        name = (ctx.params or {}).get("name")
        budget = budgets.get(name, default) if isinstance(name, str) else default
        rate = tool_rate(budget)
        if rate is not None and isinstance(name, str):
            try:
                wait = edge_verdict(ctx, name)
                if wait is None:  # stdio, an older era, or headers that named another tool
                    wait = await buckets.take(tool_bucket_key(current_principal().id, name), *rate)
            except LimiterUnavailableError:
                return refusal(
                    "Rate limiting is temporarily unavailable, so this call was not run. Retry in a few seconds.",
                    error="rate_limit_unavailable",
                    retry_after_seconds=1,
                )
            if wait:
                seconds = max(1, math.ceil(wait))
                return refusal(
                    f"Rate limited: {name} may be called {budget.rate_per_second:g} times per second. "
                    f"Wait {seconds} s before calling it again.",
                    error="rate_limited",
                    retry_after_seconds=seconds,
                )
        # asyncio's timeout costs a fraction of an anyio cancel scope on every call (the server
        # runs on asyncio). `expired()` tells our deadline from a TimeoutError the tool raised.
        deadline = asyncio.timeout(budget.timeout_seconds)
        try:
            with deadline_after(budget.timeout_seconds):  # what services read as `seconds_left()`
                async with deadline:
                    return await call_next(ctx)
        except TimeoutError:
            if not deadline.expired():
                raise
        return refusal(
            f"{name} did not finish within {budget.timeout_seconds:g} s and was cancelled. "
            "Ask for less work per call (for example fewer items), or retry later.",
            error="timeout",
            timeout_seconds=budget.timeout_seconds,
        )

    return middleware
