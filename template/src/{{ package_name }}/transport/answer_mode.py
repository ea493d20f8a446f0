"""JSON answers unless something streams: the SDK's answer framing chosen per request.

The SDK frames every answer of a server one way (`json_response`, set once). SSE costs a task
group, a memory stream and a disconnect watcher per call; plain JSON costs none of that, but drops
whatever a handler sends before its result (progress, log messages). A tool can send something
before its result only through the `Context` it asks for, so this chooses per request: a
`tools/call` of a tool with a `Context` parameter gets the SSE path (where the SDK still answers
JSON when nothing was sent), every other request one JSON body.

The tool is read from the 2026-07-28 routing headers (the SDK refuses a request whose headers
disagree with its body); a stateless 2025-era POST names it only in its body, which is read (up to
the body limit) and replayed unchanged. Legacy sessions (`HTTP__STATELESS_LEGACY=false`) keep the
configured framing: the SDK fixes it when the session starts, and SSE is what carries their
server-to-client requests. `HTTP__JSON_RESPONSE=true` still means JSON always.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from enum import Enum
from typing import Any

from mcp.server import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import Receive, Scope

from ..request_body import BodyTooDeepError, called_tool, peek_body

_HANDSHAKE_VERSIONS = frozenset(v.encode() for v in HANDSHAKE_PROTOCOL_VERSIONS)


class Answer(Enum):
    """How one request is answered."""

    JSON = "json"
    """The SDK's JSON path: one body, nothing sent before it."""
    STREAM = "stream"
    """The SDK's SSE path, passed on as the SDK frames it."""
    STREAM_UNLESS_LONE_RESULT = "stream_unless_lone_result"
    """The SSE path, but a stream that carries only its result is sent as JSON (`lone_result`)."""


ANSWER_WITH_JSON: ContextVar[bool] = ContextVar("answer_with_json", default=False)
"""This request's framing, read by the session manager as its `json_response`."""


class PerRequestFraming(StreamableHTTPSessionManager):
    """The SDK's session manager with `json_response` read per request instead of per server.

    The SDK reads the attribute when a request arrives (to pick the 2026-07-28 answer path, and
    when it creates a stateless transport), so a context variable set for the request is enough;
    nothing shared is changed per request.
    """

    @property
    def json_response(self) -> bool:
        return ANSWER_WITH_JSON.get()

    @json_response.setter
    def json_response(self, _configured: bool) -> None:
        """The constructor's server-wide value; `Framing` carries the configured default instead."""


def tool_takes_context(mcp: MCPServer[Any]) -> Callable[[str], bool]:
    """Whether the named tool asks for a `Context` (the only way it can send before its result).

    Looked up at call time, so tools added later are judged too. Without the SDK's tool table
    (a future SDK), every tool is treated as streaming: slower, never wrong.
    """
    tools = getattr(mcp, "_tool_manager", None)
    if tools is None or not hasattr(tools, "get_tool"):
        return lambda _name: True

    def takes_context(name: str) -> bool:
        tool = tools.get_tool(name)
        return tool is not None and getattr(tool, "context_kwarg", "") is not None

    return takes_context


class Framing:
    """Decides each POST's framing; `None` from `choose` means "the configured one"."""

    def __init__(
        self, *, streams: Callable[[str], bool], configured_json: bool, stateless_legacy: bool, max_body_bytes: int
    ) -> None:
        self.streams = streams
        self.configured_json = configured_json
        self.stateless_legacy = stateless_legacy
        self.max_body_bytes = max_body_bytes

    async def choose(self, scope: Scope, receive: Receive) -> tuple[Answer, Receive]:
        """This request's answer, and the `receive` to hand on."""
        configured = Answer.JSON if self.configured_json else Answer.STREAM
        if self.configured_json or scope["method"] != "POST":
            return configured, receive
        version = method = name = None
        for header, value in scope["headers"]:
            if header == b"mcp-protocol-version":
                version = value
            elif header == b"mcp-method":
                method = value
            elif header == b"mcp-name":
                name = value
        if version is not None and version not in _HANDSHAKE_VERSIONS:  # 2026-07-28: the headers say it
            # The SDK's own SSE path of this era answers JSON when nothing was sent.
            streaming = method == b"tools/call" and name is not None and self.streams(name.decode("latin-1"))
            return Answer.STREAM if streaming else Answer.JSON, receive
        if not self.stateless_legacy:
            return configured, receive
        body, replay = await peek_body(receive, self.max_body_bytes)
        try:
            tool = None if body is None else called_tool(body)
        except BodyTooDeepError:
            tool = None  # the SDK answers it (or authorization refused it first)
        if body is None:
            return Answer.STREAM, replay
        return (Answer.STREAM_UNLESS_LONE_RESULT if tool is not None and self.streams(tool) else Answer.JSON), replay
