"""A POST's body read ahead of the SDK and replayed to it unchanged, and the tool it calls.

A 2025-era `tools/call` names its tool only in the body, and two edge checks need that name
before the SDK parses the request: authorization (the tool's scopes) and the answer framing
(whether the tool streams). Both read the body through these, so a request is buffered and
parsed the same way wherever it is looked at.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import from_json
from starlette.types import Message, Receive


class BodyTooDeepError(ValueError):
    """The body nests deeper than the JSON parser goes (refused, never handed on)."""


async def peek_body(receive: Receive, max_bytes: int) -> tuple[bytes | None, Receive]:
    """The whole body (None past `max_bytes` or on a disconnect) and a `receive` that replays it."""
    buffered: list[Message] = []
    size, more = 0, True
    while more and size <= max_bytes:
        message = await receive()
        buffered.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    complete = not more and buffered[-1]["type"] == "http.request"
    body = b"".join(m.get("body", b"") for m in buffered) if complete else None

    async def replay() -> Message:
        return buffered.pop(0) if buffered else await receive()

    return body, replay


def called_tool(body: bytes) -> str | None:
    """The tool a JSON-RPC `tools/call` body names; None for any other message or a malformed one
    (which the SDK answers itself).

    Raises:
        BodyTooDeepError: the body nests past the parser's limit.
    """
    try:
        message: Any = from_json(body)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise BodyTooDeepError(str(exc)) from None
        return None
    if isinstance(message, dict) and message.get("method") == "tools/call":
        params = message.get("params")
        if isinstance(params, dict) and isinstance(params.get("name"), str):
            return str(params["name"])
    return None
