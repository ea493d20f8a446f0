"""An SSE answer that carries nothing but its result, sent as one JSON body instead.

A tool that takes a `Context` may send progress or log messages before its result, so its
stateless 2025-era call takes the SDK's SSE path; most such calls send nothing (no progress
token, nothing logged), and their client then reads an event stream of one event. The 2026-07-28
handler of the SDK already answers those with JSON; this does the same for the stateless legacy
leg, without buffering a stream that does carry something: the response start is held only
until the first event, and any first event that is not the lone final result (a notification,
a ping, a second event) lets the stream through as it is, from that event on.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import from_json
from starlette.types import Message, Send

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_LINE = re.compile(rb"\r\n|\n|\r")
_SSE_ONLY_HEADERS = frozenset(
    {b"content-type", b"content-length", b"cache-control", b"connection", b"x-accel-buffering"}
)


def lone_result_as_json(send: Send) -> Send:
    """A `send` that turns an event stream of exactly one JSON-RPC response into a JSON answer."""
    held: Message | None = None
    buffered = bytearray()
    passing = False

    async def send_lone_result_as_json(message: Message) -> None:
        nonlocal held, passing
        if passing:
            await send(message)
            return
        if message["type"] == "http.response.start":
            if message["status"] == 200 and _is_event_stream(message.get("headers", ())):
                held = message
                return
            passing = True
            await send(message)
            return
        if held is None or message["type"] != "http.response.body":
            await send(message)
            return
        buffered.extend(message.get("body", b""))
        more = bool(message.get("more_body", False))
        result = _lone_result(bytes(buffered))
        if result is not None and more:
            return  # the first event is still arriving, or the result waits for the stream's end
        if isinstance(result, bytes):
            await send(_json_start(held, len(result)))
            await send({"type": "http.response.body", "body": result})
            return
        passing = True  # something streams (or the stream ended early): pass it on unchanged
        await send(held)
        await send({"type": "http.response.body", "body": bytes(buffered), "more_body": more})

    return send_lone_result_as_json


class _Undecided:
    """The first event has not arrived whole yet."""


_UNDECIDED = _Undecided()


def _lone_result(stream: bytes) -> bytes | _Undecided | None:
    """The JSON of the stream's one event if that event is a JSON-RPC response and nothing follows
    it; `_UNDECIDED` while its first event is incomplete; None when the stream carries more."""
    end = _EVENT_END.search(stream)
    if end is None:
        return _UNDECIDED
    if stream[end.end() :].strip():
        return None  # a second event: the stream carries more than its result
    data: list[bytes] = []
    for line in _LINE.split(stream[: end.start()]):
        field, _, value = line.partition(b":")
        if field == b"data":
            data.append(value[1:] if value.startswith(b" ") else value)
        elif field not in (b"event", b"id"):
            return None  # a comment (a ping) or a retry field: leave the stream as the SDK framed it
    payload = b"\n".join(data)
    try:
        decoded = from_json(payload)
    except ValueError:
        return None
    is_response = isinstance(decoded, dict) and "id" in decoded and ("result" in decoded or "error" in decoded)
    return payload if is_response else None


def _is_event_stream(headers: Any) -> bool:
    return any(name == b"content-type" and value.startswith(b"text/event-stream") for name, value in headers)


def _json_start(held: Message, length: int) -> Message:
    """The held start, re-framed as JSON (a new header list: the held one is left as it was)."""
    headers = [(name, value) for name, value in held.get("headers", ()) if name not in _SSE_ONLY_HEADERS]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    return {"type": "http.response.start", "status": 200, "headers": headers}
