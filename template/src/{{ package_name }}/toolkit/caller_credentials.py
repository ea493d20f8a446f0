"""Hand each tool call the credentials its caller sent for upstreams it owns (see
`upstreams/caller_credentials.py`); installed only when an upstream sets `caller_header`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

from ..upstreams.caller_credentials import caller_credentials_from


def pass_caller_credentials(headers: Iterable[str]) -> ServerMiddleware[Any]:
    """SDK middleware: around each tools/call, the values of `headers` from that call's HTTP request.

    Read per message (a legacy session's calls each carry their own request), so one call never
    runs with another's credential; stdio calls carry none.
    """
    wanted = tuple(sorted({name.lower() for name in headers}))

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        sent = getattr(ctx.request, "headers", None)
        values = {} if sent is None else {name: value for name in wanted if (value := sent.get(name))}
        with caller_credentials_from(values):
            return await call_next(ctx)

    return middleware
