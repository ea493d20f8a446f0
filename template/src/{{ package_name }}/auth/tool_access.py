"""Per-tool scopes inside the MCP layer: callers see only the tools they may call.

The HTTP edge already refuses a call without the needed scopes (403 with a scope challenge);
this middleware keeps `tools/list` truthful per caller and refuses any call that reaches the
SDK by another path, so the rule holds whatever the transport.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import CallToolResult, ListToolsResult, TextContent

from ..principal import current_principal
from .scopes import ScopePolicy


def insufficient_scope_message(tool: str, missing: list[str]) -> str:
    """What a caller without the needed scopes is told."""
    return (
        f"Tool {tool!r} needs scope {' '.join(missing)}, which your credential does not grant. "
        "Ask for a token or API key with that scope."
    )


def tool_access(policy: ScopePolicy) -> ServerMiddleware[Any]:
    """SDK middleware enforcing `policy` for authenticated callers."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in ("tools/call", "tools/list"):
            return await call_next(ctx)
        principal = current_principal()
        if not principal.authenticated:
            return await call_next(ctx)
        if ctx.method == "tools/list":
            result = await call_next(ctx)
            hidden = policy.hidden_tools(principal.scopes)
            if not hidden:
                return result
            if isinstance(result, ListToolsResult):
                return result.model_copy(update={"tools": [t for t in result.tools if t.name not in hidden]})
            if isinstance(result, dict) and isinstance(result.get("tools"), list):  # the wire form
                return {**result, "tools": [t for t in result["tools"] if t.get("name") not in hidden]}
            return result
        name = (ctx.params or {}).get("name")
        missing = policy.missing(name, principal.scopes) if isinstance(name, str) else []
        if missing:
            # A typed result: raw dicts skip the SDK's per-version serializer.
            text = insufficient_scope_message(str(name), missing)
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await call_next(ctx)

    return middleware
