"""The Streamable HTTP endpoint: both protocol eras on one path, with Host/Origin checks from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from ..refusal import refusal
from ..settings import HttpSettings
from .answer_mode import ANSWER_WITH_JSON, Answer, Framing, PerRequestFraming, tool_takes_context
from .event_store import keep_session_events
from .lone_result import lone_result_as_json
from .protocol_version import refuse_unless_modern, unserved_version

if TYPE_CHECKING:
    from .event_store_redis import SharedEvents

MCP_PATH = "/mcp"


STATELESS_METHODS = refusal(
    405,
    "method_not_allowed",
    "This server keeps no legacy sessions (HTTP__STATELESS_LEGACY=true), so there is no session stream "
    "to open (GET) or session to end (DELETE): send each JSON-RPC message with POST.",
    headers={"allow": "POST"},
)


class SdkEndpoint:
    """The SDK's request handler, called directly: only the MCP path reaches it.

    The SDK wraps it in a Starlette app whose error middleware, exception middleware and router
    add a few percent to every call and nothing else here (the route has no method filter, auth
    or middleware of its own); every other path is the host application's to route.

    Without legacy sessions a GET stream could never carry anything, yet the SDK would hold it
    open (with a ping every 15 s, a connection and a concurrency slot): it is refused instead.

    Each request's answer framing (JSON unless it may stream) is chosen here: see `answer_mode`;
    a protocol version this server does not speak is refused here: see `protocol_version`.
    """

    def __init__(self, handler: ASGIApp, *, stateless: bool, framing: Framing) -> None:
        self.handler = handler
        self.refused_methods = frozenset({"GET", "DELETE"} if stateless else ())
        self.framing = framing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.handler(scope, receive, send)
            return
        if scope["method"] in self.refused_methods:
            await STATELESS_METHODS.send(scope, send)
            return
        if (requested := unserved_version(scope)) is not None:
            handed_on = await refuse_unless_modern(requested, scope, receive, send, self.framing.max_body_bytes)
            if handed_on is None:
                return
            receive = handed_on
        answer, receive = await self.framing.choose(scope, receive)
        if answer is Answer.STREAM_UNLESS_LONE_RESULT:
            send = lone_result_as_json(send)
        token = ANSWER_WITH_JSON.set(answer is Answer.JSON)
        try:
            await self.handler(scope, receive, send)
        finally:
            ANSWER_WITH_JSON.reset(token)


def build_mcp_http_app(
    mcp: MCPServer[Any], http: HttpSettings, path: str = MCP_PATH, shared_events: SharedEvents | None = None
) -> ASGIApp:
    """Return the SDK's Streamable HTTP endpoint; building it also creates `mcp.session_manager`.

    The SDK routes each request by its `MCP-Protocol-Version` header: 2026-07-28 goes to the
    single-exchange handler, no header or a handshake version to the legacy transport.
    Host and Origin are checked by `RequestGuard` in front of this app (allowlists from settings,
    forwarded hosts from trusted proxies), so the SDK's own check is explicitly off rather than
    left to its default, which depends on the bind address. Legacy sessions keep their recent
    messages so a dropped SSE stream resumes with `Last-Event-ID` (`HTTP__REPLAY_EVENTS`): in this
    process, or in `shared_events` (Redis) so that any replica can replay them.
    """
    mcp.streamable_http_app(  # for the session manager it creates; its Starlette wrapper is not used
        streamable_http_path=path,
        stateless_http=http.stateless_legacy,
        json_response=http.json_response,
        max_request_body_size=http.max_request_body_bytes,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        host=http.host,
        retry_interval=http.sse_retry_ms,  # sent only with a priming event, i.e. where streams resume
    )
    manager = mcp.session_manager
    handler: ASGIApp = StreamableHTTPASGIApp(manager)
    if not http.stateless_legacy and http.replay_events:
        if shared_events is None:
            keep_session_events(manager, http.replay_events)
        else:
            from .event_store_redis import ReplayElsewhere, owner_of  # the `redis` extra: imported only here

            events = shared_events
            keep_session_events(
                manager, http.replay_events, lambda session, requestor: events.store_for(session, owner_of(requestor))
            )
            handler = ReplayElsewhere(handler, events=events, is_open=lambda session: session in open_sessions(manager))
    if type(manager) is StreamableHTTPSessionManager:  # the SDK's own class: read its framing per request
        manager.__class__ = PerRequestFraming
    framing = Framing(
        streams=tool_takes_context(mcp),
        configured_json=http.json_response,
        stateless_legacy=http.stateless_legacy,
        max_body_bytes=http.max_request_body_bytes,
    )
    return SdkEndpoint(handler, stateless=http.stateless_legacy, framing=framing)


def open_sessions(manager: StreamableHTTPSessionManager) -> dict[str, Any]:
    """The legacy sessions this process holds (the SDK keeps no public registry; this reads its own)."""
    sessions: dict[str, Any] = manager._server_instances
    return sessions
