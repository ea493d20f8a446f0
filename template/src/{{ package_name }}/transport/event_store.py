"""SSE resumability for legacy sessions: a client that reconnects with `Last-Event-ID` gets what it missed.

The SDK hands one event store to every session and names streams by JSON-RPC request id, which
clients reuse (every session has a request 1 and a `_GET_stream`): one shared store would replay
one caller's messages into another caller's stream. So each session gets a store of its own,
bounded, created when the session is admitted and dropped with it. A replay names an event of the
reconnecting session only; any other id replays nothing.

Sessions live in one process (the SDK has no pluggable session store, python-sdk #2111), so only
the replica that holds a session serves it. With STATE__BACKEND=redis each session's events are
kept in Redis instead (`event_store_redis`), so any replica can give a reconnecting client what it
missed; the session itself still lives on its own replica.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import JSONRPCMessage


class SessionEventStore(EventStore):
    """The last `max_events` messages of one session's streams, in order (the oldest go first)."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.events: OrderedDict[int, tuple[str, JSONRPCMessage | None]] = OrderedDict()
        self.next_id = 1

    async def store_event(self, stream_id: str, message: JSONRPCMessage | None) -> str:
        event_id = self.next_id
        self.next_id += 1
        self.events[event_id] = (stream_id, message)
        while len(self.events) > self.max_events:
            self.events.popitem(last=False)
        return str(event_id)

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        if not last_event_id.isdigit() or int(last_event_id) not in self.events:
            return None  # not an event of this session (or already forgotten): nothing to resume
        after = int(last_event_id)
        stream_id = self.events[after][0]
        for event_id, (stream, message) in list(self.events.items()):
            if event_id > after and stream == stream_id and message is not None:
                await send_callback(EventMessage(message, str(event_id)))
        return stream_id


SessionStores = Callable[[str, Any], EventStore]
"""The event store of a new session, from its id and the credential that opened it."""


def keep_session_events(
    manager: StreamableHTTPSessionManager, max_events: int, store_for: SessionStores | None = None
) -> None:
    """Give every session `manager` admits its own event store (before it serves a request): a
    `SessionEventStore`, or what `store_for` makes (the Redis one, `event_store_redis`).

    The SDK takes one store for all sessions; the per-session store is set on each new transport
    (private API, isolated here; tests/transport/test_subscriptions.py fails if the SDK changes it).
    """
    admit = manager._admit_session

    def admit_with_store(requestor: Any) -> Any:
        transport = admit(requestor)
        if transport is not None:
            transport._event_store = (
                SessionEventStore(max_events)
                if store_for is None
                else store_for(str(transport.mcp_session_id), requestor)
            )
            resume_as_negotiated(transport)
        return transport

    manager._admit_session = admit_with_store  # type: ignore[method-assign]


def resume_as_negotiated(transport: Any) -> None:
    """Prime and close a session's streams by the version the session negotiated, not by each
    request's `MCP-Protocol-Version` alone.

    The SDK decides per request from the header: a request of a session negotiated at 2025-11-25
    that sends an older version (the spec says SHOULD, not MUST, repeat the negotiated one) gets
    no priming event and cannot be resumed. The session's first request is its initialize, whose
    version the SDK hands to these hooks; later requests use the newer of the two, so a client
    that negotiated resumability keeps it, and one that negotiated an older era never gets it.
    """
    negotiated: list[str] = []

    def effective(protocol_version: str) -> str:
        if not negotiated:
            negotiated.append(protocol_version)  # the initialize request's own version
        return max(protocol_version, negotiated[0])  # ISO dates: newer sorts later

    mint, create = transport._mint_priming_event, transport._create_session_message

    async def mint_for_session(stream_id: str, protocol_version: str) -> Any:
        return await mint(stream_id, effective(protocol_version))

    def create_for_session(message: Any, request: Any, request_id: Any, protocol_version: str) -> Any:
        return create(message, request, request_id, effective(protocol_version))

    transport._mint_priming_event = mint_for_session
    transport._create_session_message = create_for_session
