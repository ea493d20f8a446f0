"""Pages of tools/list, resources/list, resources/templates/list and prompts/list.

The SDK answers every list in one piece and ignores the cursor. This middleware runs outside the
filters that hide items per caller (exposure lists, scopes), so it pages what this caller may
see: each page holds up to `page_size` items and a `nextCursor` while more follow. The cursor is
an offset into the registration order, which every replica of a deploy shares, so the next page
may come from any replica. A cursor that was not issued here is refused with -32602, as the
spec asks; a cursor past the end (the list shrank) gives an empty last page.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import (
    INVALID_PARAMS,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
)
from pydantic import BaseModel

LISTS: dict[str, tuple[type[BaseModel], str, str]] = {
    "tools/list": (ListToolsResult, "tools", "tools"),
    "resources/list": (ListResourcesResult, "resources", "resources"),
    "resources/templates/list": (ListResourceTemplatesResult, "resource_templates", "resourceTemplates"),
    "prompts/list": (ListPromptsResult, "prompts", "prompts"),
}
"""List method -> its typed result, the items' field, and the field's wire name."""

MAX_CURSOR_CHARS = 64


def encode_cursor(method: str, offset: int) -> str:
    """An opaque cursor: where the next page of `method` starts."""
    raw = json.dumps({"m": method, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(method: str, cursor: object) -> int:
    """The offset a cursor of `method` points at.

    Raises:
        MCPError: -32602 when the cursor was not issued by this server for `method`.
    """
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS:
        raise invalid_cursor(method)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise invalid_cursor(method) from None
    if not isinstance(decoded, dict) or decoded.get("m") != method:
        raise invalid_cursor(method)
    offset = decoded.get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 1:
        raise invalid_cursor(method)
    return offset


def invalid_cursor(method: str) -> MCPError:
    return MCPError(
        code=INVALID_PARAMS,
        message=f"Invalid cursor for {method}: pass the nextCursor of the previous page, or none for the first page.",
    )


def paginate(page_size: int) -> ServerMiddleware[Any]:
    """SDK middleware serving each list in pages of `page_size` items."""

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        shape = LISTS.get(ctx.method)
        if shape is None:
            return await call_next(ctx)
        cursor = (ctx.params or {}).get("cursor")
        start = 0 if cursor is None else decode_cursor(ctx.method, cursor)
        return page(await call_next(ctx), ctx.method, shape, start, page_size)

    return middleware


def page(
    result: HandlerResult, method: str, shape: tuple[type[BaseModel], str, str], start: int, size: int
) -> HandlerResult:
    """The slice of `result` from `start`, with the cursor of what follows (a fresh copy: the SDK's
    list may be shared)."""
    result_type, field, wire_field = shape
    if isinstance(result, result_type):
        items = list(getattr(result, field))
        following = encode_cursor(method, start + size) if len(items) > start + size else None
        return result.model_copy(update={field: items[start : start + size], "next_cursor": following})
    if isinstance(result, dict) and isinstance(result.get(wire_field), list):
        items = result[wire_field]
        following = encode_cursor(method, start + size) if len(items) > start + size else None
        paged = {**result, wire_field: items[start : start + size]}
        if following is None:
            paged.pop("nextCursor", None)
        else:
            paged["nextCursor"] = following
        return paged
    return result
