"""Request ids and one structured log record per MCP request.

The id comes from the caller's `X-Request-Id` (when well-formed) or the trace id of its
`traceparent`, else a new one; it is returned in `X-Request-Id`, bound to every log record of
the request, and used as the reference of any error the client sees.
"""

from __future__ import annotations

import re
import secrets
import time
from contextvars import ContextVar

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..principal import principal_id
from ..refusal import REFUSAL_REASON
from .logging import info_record
from .redaction import redact

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
request_facts_var: ContextVar[dict[str, object] | None] = ContextVar("request_facts", default=None)
"""Fields a handler adds to its request's log record (tool calls do: one record per call, not two).
A dict rather than a value so tasks spawned for the request, which copy the context, share it."""

_VALID_ID = re.compile(rb"^[A-Za-z0-9._:-]{8,128}$")
_TRACEPARENT = re.compile(rb"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def new_request_id() -> str:
    return secrets.token_hex(8)


def current_request_id() -> str:
    """The id of the request being handled, or a fresh one outside any request (stdio)."""
    return request_id_var.get() or new_request_id()


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """A caller-supplied id worth keeping: X-Request-Id, else the traceparent's trace id."""
    traceparent = None
    for name, value in headers:
        if name == b"x-request-id" and _VALID_ID.match(value):
            return value.decode()
        if name == b"traceparent":
            traceparent = _TRACEPARENT.match(value)
    return traceparent.group(1).decode() if traceparent else None


class RequestRecorder:
    """Assign the request id, return it, and log one record per MCP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope["headers"]) or new_request_id()
        header = (b"x-request-id", request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # A new message and header list, never the ones handed over: a layer inside may
                # send the same objects to every caller, and a header added to them would reach
                # them all. Any id set inside is replaced, so a response carries exactly one.
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"]
                headers.append(header)
                message = {**message, "headers": headers}
            await send(message)

        token = request_id_var.set(request_id)
        facts: dict[str, object] = {}
        facts_token = request_facts_var.set(facts)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            request_facts_var.reset(facts_token)
            self._log(scope, request_id, status, time.perf_counter() - started, facts)

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int, seconds: float, facts: dict[str, object]) -> None:
        if "tool" in facts:
            message = f"Tool call {facts['tool']} -> {facts.get('outcome')} ({status})"
            info_record(__name__, message, {"request_id": request_id, "status": status, **facts})
            return
        headers = dict(scope["headers"])
        user = scope.get("user")
        fields = {
            "request_id": request_id,
            "http_method": scope["method"],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "principal": principal_id(user.access_token) if isinstance(user, AuthenticatedUser) else None,
            "mcp_method": redact(headers.get(b"mcp-method", b"").decode("latin-1"), 64) or None,
            "mcp_name": redact(headers.get(b"mcp-name", b"").decode("latin-1"), 64) or None,
            "protocol_version": redact(headers.get(b"mcp-protocol-version", b"").decode("latin-1"), 16) or None,
            "client": scope["client"][0] if scope.get("client") else None,
            "refusal": scope.get(REFUSAL_REASON),
        }
        info_record(__name__, f"MCP request {scope['method']} {scope['path']} -> {status}", fields)
