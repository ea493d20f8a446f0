"""SDK middleware applying the exposure decision to every MCP message, on every transport.

Lists leave hidden items out; naming a hidden item is refused the way an unknown one is, but
says it is switched off here: a tool call gets an `isError` result, a resource read, prompt or
completion request a JSON-RPC invalid-params error. It runs before the scope check, so a caller
lacking a disabled tool's scope hears "disabled", not "insufficient scope".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    TextContent,
)
from pydantic import BaseModel

from .policy import Decided, Exposure

MAX_NAME_CHARS = 100
"""A refused name is echoed this far: the caller chose it."""


def disabled_message(what: str, name: str) -> str:
    """What a caller naming a switched-off item is told."""
    return f"{what} {name[:MAX_NAME_CHARS]!r} is disabled on this server by its operator."


def disabled_tool(name: str) -> CallToolResult:
    # A typed result: raw dicts skip the SDK's per-version serializer.
    text = disabled_message("Tool", name)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content={"error": "tool_disabled"}, is_error=True
    )


def disabled_error(what: str, name: str, **data: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=disabled_message(what, name), data=data or None)


@dataclass(frozen=True)
class ListFilter:
    """Drops hidden entries from one kind of list result.

    The SDK hands middleware the wire dict (it serializes inside the chain); a typed result, as
    a middleware further in may return, is filtered as a typed copy so that the SDK's
    per-version serializer still applies to it.
    """

    result_type: type[BaseModel]
    field: str
    key: str
    wire_field: str
    wire_key: str
    items: Decided

    def __call__(self, result: HandlerResult) -> HandlerResult:
        hides = self.items.hides
        if isinstance(result, self.result_type):
            kept = [item for item in getattr(result, self.field) if not hides(getattr(item, self.key))]
            return result.model_copy(update={self.field: kept})
        if isinstance(result, dict) and isinstance(result.get(self.wire_field), list):
            kept = [item for item in result[self.wire_field] if not hides(str(item.get(self.wire_key)))]
            return {**result, self.wire_field: kept}
        return result


def exposure_gate(exposure: Exposure) -> ServerMiddleware[Any]:
    """SDK middleware hiding and refusing what `exposure` switched off."""
    lists: Mapping[str, ListFilter] = MappingProxyType(
        {
            "tools/list": ListFilter(ListToolsResult, "tools", "name", "tools", "name", exposure.tools),
            "prompts/list": ListFilter(ListPromptsResult, "prompts", "name", "prompts", "name", exposure.prompts),
            "resources/list": ListFilter(
                ListResourcesResult, "resources", "uri", "resources", "uri", exposure.resources
            ),
            "resources/templates/list": ListFilter(
                ListResourceTemplatesResult,
                "resource_templates",
                "uri_template",
                "resourceTemplates",
                "uriTemplate",
                exposure.resources,
            ),
        }
    )

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method, params = ctx.method, ctx.params or {}
        if method == "tools/call":
            name = params.get("name")
            if isinstance(name, str) and exposure.tools.hides(name):
                return disabled_tool(name)
        elif method == "resources/read":
            uri = params.get("uri")
            if isinstance(uri, str) and exposure.hides_read(uri):
                raise disabled_error("Resource", uri, uri=uri)
        elif method == "prompts/get":
            name = params.get("name")
            if isinstance(name, str) and exposure.prompts.hides(name):
                raise disabled_error("Prompt", name)
        elif method == "completion/complete":
            refuse_completion_of_hidden(params.get("ref"), exposure)
        elif method in lists:
            return lists[method](await call_next(ctx))
        return await call_next(ctx)

    return middleware


def refuse_completion_of_hidden(ref: object, exposure: Exposure) -> None:
    """Argument completion would describe a hidden prompt or resource template.

    Raises:
        MCPError: `ref` names a hidden prompt or resource template.
    """
    if not isinstance(ref, dict):
        return
    name, uri = ref.get("name"), ref.get("uri")
    if ref.get("type") == "ref/prompt" and isinstance(name, str) and exposure.prompts.hides(name):
        raise disabled_error("Prompt", name)
    if ref.get("type") == "ref/resource" and isinstance(uri, str) and exposure.resources.hides(uri):
        raise disabled_error("Resource", uri, uri=uri)
