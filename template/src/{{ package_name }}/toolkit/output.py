"""What a tool result costs the model that reads it: one compact copy of the data, and a size cap.

- **Minified text.** The SDK renders a returned value as pretty-printed JSON (`indent=2`), one
  text block per list item. Whitespace is tokens the model pays for and learns nothing from, so
  JSON text is re-serialized without it.
- **One copy.** The spec has a tool with structured output also return "the serialized JSON in a
  TextContent block" for clients that only read `content` (2025-06-18 and later, "Structured
  Content"). So the data is sent twice; what a model reads depends on the host: one of the two,
  rarely both. The text is therefore made the same data, minified, in one block: never more than
  the structured copy, and it is what a content-only client must have. A text the tool wrote
  itself (a summary next to its structured content) is left as it is: it is not a copy.
- **A cap.** A result over `OUTPUT__MAX_RESULT_BYTES` (its JSON as sent) is cut to fit, ending in
  a marker that says how large it was and to ask for less (a narrower query, a smaller page).
  Text (`{"result": "..."}`) is cut in both copies. Any other structured result cannot be cut and
  still match its output schema, so an over-cap one becomes an `isError` result (error_type
  `input`) carrying the beginning of the data as text.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, ContentBlock, TextContent

_NOT_TEXT = object()


def compact_json(value: Any) -> str:
    """`value` as JSON with no insignificant whitespace (UTF-8 kept, as the transport sends it)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def wire_bytes(result: CallToolResult) -> int:
    """Bytes of `result` as the transport serializes it (aliases, no nulls, no whitespace)."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


def _value_of(block: ContentBlock) -> Any:
    """The JSON value a text block carries (its text when it is not JSON); `_NOT_TEXT` otherwise."""
    if not isinstance(block, TextContent):
        return _NOT_TEXT
    try:
        return json.loads(block.text)
    except ValueError:
        return block.text


def _text(block: TextContent, text: str) -> TextContent:
    # A new block: the tool may have returned a result it keeps and returns again.
    return block.model_copy(update={"text": text})


def compact(result: CallToolResult) -> CallToolResult:
    """`result` with its text the minified JSON it carries, and one text block for one structured copy."""
    if result.is_error or not result.content:
        return result
    values = [_value_of(block) for block in result.content]
    payload = result.structured_content
    first = result.content[0]
    if payload is not None and isinstance(first, TextContent) and all(value is not _NOT_TEXT for value in values):
        if values == [payload]:
            return result.model_copy(update={"content": [_text(first, compact_json(payload))]})
        wrapped = payload.get("result") if set(payload) == {"result"} else _NOT_TEXT
        if values == [wrapped]:  # a primitive return value, wrapped as {"result": value} by the SDK
            text = wrapped if isinstance(wrapped, str) else compact_json(wrapped)
            return result.model_copy(update={"content": [_text(first, text)]})
        if isinstance(wrapped, list) and values == wrapped:  # a list: the SDK sent one block per item
            return result.model_copy(update={"content": [_text(first, compact_json(wrapped))]})
    content: list[ContentBlock] = []
    changed = False
    for block, value in zip(result.content, values, strict=True):
        if isinstance(block, TextContent) and isinstance(value, dict | list) and "\n" in block.text:
            content.append(_text(block, compact_json(value)))
            changed = True
        else:
            content.append(block)
    return result.model_copy(update={"content": content}) if changed else result


def capped(result: CallToolResult, max_bytes: int, tool: str) -> CallToolResult:
    """`result` if it fits in `max_bytes`; else its beginning as text, ending in a truncation marker."""
    size = wire_bytes(result)
    if size <= max_bytes:
        return result
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    if not texts and result.structured_content is not None:
        texts = [compact_json(result.structured_content)]
    others = sum(not isinstance(block, TextContent) for block in result.content)
    left_out = f" {others} non-text content block(s) were left out." if others else ""
    marker = (
        f"\n[truncated: the result of {tool} was {size} bytes, over this server's limit of {max_bytes}; "
        f"the text above is its beginning.{left_out} Do not guess the rest: call {tool} again asking for "
        "less, with a narrower query or a smaller page (its limit, offset or cursor argument, if it has one).]"
    )
    structured = result.structured_content
    shape: dict[str, Any] = {"content": [TextContent(type="text", text=marker)]}
    wrapped_text = structured is not None and set(structured) == {"result"} and isinstance(structured["result"], str)
    if wrapped_text:
        # A tool that returns text: the cut text still matches its schema ({"result": string}).
        shape["structured_content"] = {"result": marker}
    elif structured is not None:
        # Any other schema's shape cannot be cut; an isError result is exempt from it.
        shape["is_error"] = True
        shape["structured_content"] = {
            "error_type": "input",
            "retry_after_seconds": None,
            "fallback_tool": None,
            "truncated": True,
            "result_bytes": size,
            "max_result_bytes": max_bytes,
        }
    empty = result.model_copy(update=shape)
    budget = max_bytes - wire_bytes(empty)
    preview = _cut("\n".join(texts), budget // 2 if wrapped_text else budget) + marker
    update: dict[str, Any] = {"content": [TextContent(type="text", text=preview)]}
    if wrapped_text:
        update["structured_content"] = {"result": preview}
    return empty.model_copy(update=update)


def _cut(text: str, budget: int) -> str:
    """The longest start of `text` whose JSON string escape fits in `budget` bytes."""
    cut = text.encode()[: max(0, budget)].decode(errors="ignore")  # escapes only ever grow it
    low, high = 0, len(cut)
    while low < high:  # bisect: escapes (\n, \", control characters) take 2 to 6 bytes
        middle = (low + high + 1) // 2
        if len(compact_json(cut[:middle]).encode()) - 2 <= budget:
            low = middle
        else:
            high = middle - 1
    return cut[:low]
