"""Per-tool (and per-resource) scopes inside the MCP layer: callers see only what they may use.

The HTTP edge already refuses a call without the needed scopes (403 with a scope challenge);
this middleware keeps `tools/list` truthful per caller and refuses any call that reaches the
SDK by another path, so the rule holds whatever the transport.
"""

from __future__ import annotations

from typing import Any

from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import INVALID_PARAMS, CallToolResult, ListResourcesResult, ListToolsResult, TextContent

from ..principal import current_principal
from .scopes import ScopePolicy


def insufficient_scope_message(tool: str, missing: list[str], what: str = "Tool") -> str:
    """What a caller without the needed scopes is told (about a tool, or a resource by its URI)."""
    return (
        f"{what} {tool!r} needs scope {' '.join(missing)}, which your credential does not grant. "
        "Ask for a token or API key with that scope."
    )


def tool_access(policy: ScopePolicy) -> ServerMiddleware[Any]:
    """SDK middleware enforcing `policy` for authenticated callers."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in ("tools/call", "tools/list", "resources/list", "resources/read"):
            return await call_next(ctx)
        principal = current_principal()
        if not principal.authenticated:
            return await call_next(ctx)
        if ctx.method.startswith("resources/"):
            return await resource_access(policy, principal.scopes, ctx, call_next)
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


async def resource_access(
    policy: ScopePolicy, granted: frozenset[str], ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Leave the resources `granted` does not cover out of resources/list; refuse reading them.

    Raises:
        MCPError: the caller reads a resource whose scope it lacks (invalid params, as for an unknown one).
    """
    if ctx.method == "resources/read":
        uri = (ctx.params or {}).get("uri")
        missing = policy.missing_for_resource(uri, granted) if isinstance(uri, str) else []
        if missing:
            raise MCPError(code=INVALID_PARAMS, message=insufficient_scope_message(str(uri)[:100], missing, "Resource"))
        return await call_next(ctx)
    result = await call_next(ctx)
    hidden = policy.hidden_resources(granted)
    if not hidden:
        return result
    if isinstance(result, ListResourcesResult):
        return result.model_copy(update={"resources": [r for r in result.resources if str(r.uri) not in hidden]})
    if isinstance(result, dict) and isinstance(result.get("resources"), list):  # the wire form
        return {**result, "resources": [r for r in result["resources"] if r.get("uri") not in hidden]}
    return result
