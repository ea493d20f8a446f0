"""Legacy-session events in Redis (STATE__BACKEND=redis): a client that reconnects with
`Last-Event-ID` gets what it missed on whichever replica it reaches.

Each session's messages are one Redis stream, `<prefix>events:<sha256 of the session id>`, capped
at HTTP__REPLAY_EVENTS entries and kept `KEEP_SECONDS` after its last message. An entry holds the
SSE stream it belongs to, the message's JSON and a digest of the credential that opened the
session. The replica that holds the session replays from it as from the in-memory store. A replica
that does not hold it (the holder stopped, or the load balancer moved the client) answers a `GET`
with `Last-Event-ID` itself (`ReplayElsewhere`): the stream's missed messages, to the credential
that opened the session only, then the end of the stream. The client's next request there gets
404 and it opens a new session, as the spec asks. Nothing missed, an unknown id, or another
credential's session: the SDK's own 404, as before.

With Redis unreachable an event is kept in this process instead (an id with no dash) and a
warning says so, once per outage: the session's own replica can still replay it; other replicas
cannot.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections.abc import Callable
from typing import Any, cast

from loguru import logger
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp_types import JSONRPCMessage, jsonrpc_message_adapter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from .event_store import SessionEventStore

KEEP_SECONDS = 600.0
"""How long a session's events outlive its last message: a dropped stream reconnects in seconds."""

REDIS_EVENT_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
"""The form of a Redis stream entry id; anything else never reaches Redis."""

Entries = list[tuple[bytes, dict[bytes, bytes]]]
"""What XRANGE answers: (entry id, fields) pairs, as bytes (the client does not decode)."""

PRIMING = b""
"""The stored form of a priming event (the SDK stores `None`: it carries no message)."""


def owner_of(requestor: object) -> str:
    """A digest of the credential that opened a session (the SDK's `AuthorizationContext`, or None
    without auth): the same credential gives the same digest on every replica."""
    return hashlib.sha256(json.dumps(requestor, sort_keys=True).encode()).hexdigest()


def owner_in(scope: Scope) -> str:
    """`owner_of` the credential a request carries, as the SDK identifies a session's owner."""
    user = scope.get("user")
    return owner_of(authorization_context(user) if isinstance(user, AuthenticatedUser) else None)


class SharedEvents:
    """Every legacy session's events in one Redis, each call bounded by `timeout_seconds`."""

    def __init__(self, redis: Redis, *, prefix: str, max_events: int, timeout_seconds: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_events = max_events
        self.timeout_seconds = timeout_seconds
        self.keep_ms = math.ceil(KEEP_SECONDS * 1000)
        self.unreachable = False

    def key_of(self, session_id: str) -> str:
        return f"{self.prefix}events:{hashlib.sha256(session_id.encode()).hexdigest()}"

    def store_for(self, session_id: str, owner: str) -> SharedSessionEvents:
        """The event store of one new session (the SDK's `EventStore`)."""
        return SharedSessionEvents(self, self.key_of(session_id), owner)

    async def add(self, key: str, owner: str, stream_id: str, message: bytes) -> str | None:
        """Append one event; its id, or None when Redis did not take it in time."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                pipe = self.redis.pipeline(transaction=False)
                pipe.xadd(key, {"s": stream_id, "m": message, "o": owner}, maxlen=self.max_events, approximate=False)
                pipe.pexpire(key, self.keep_ms)
                event_id, _ = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            if not self.unreachable:  # once per outage, not once per message
                logger.warning("Session events kept in this process only (Redis: {})", type(exc).__name__)
            self.unreachable = True
            return None
        if self.unreachable:
            logger.info("Session events are kept in Redis again")
        self.unreachable = False
        return event_id.decode() if isinstance(event_id, bytes) else str(event_id)

    async def after(self, key: str, owner: str, last_event_id: str) -> tuple[str, list[tuple[str, bytes]]] | None:
        """The stream of `last_event_id` and its messages after it, oldest first; None when the id is
        not an event of this key opened by `owner` (or was already dropped), or Redis did not answer."""
        if not REDIS_EVENT_ID.fullmatch(last_event_id):
            return None
        try:
            async with asyncio.timeout(self.timeout_seconds):
                found = cast(Entries, await self.redis.xrange(key, last_event_id, last_event_id, count=1))
                if not found or found[0][1].get(b"o") != owner.encode():
                    return None
                stream = found[0][1].get(b"s", b"")
                later = cast(Entries, await self.redis.xrange(key, f"({last_event_id}", "+", count=self.max_events))
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("Session events could not be read for a resumption (Redis: {})", type(exc).__name__)
            return None
        missed = [
            (entry_id.decode(), fields[b"m"])
            for entry_id, fields in later
            if fields.get(b"s") == stream and fields.get(b"m", PRIMING) != PRIMING
        ]
        return stream.decode(), missed

    async def aclose(self) -> None:
        await self.redis.aclose()


class SharedSessionEvents(EventStore):
    """One session's events in `SharedEvents`, falling back to this process when Redis fails."""

    def __init__(self, shared: SharedEvents, key: str, owner: str) -> None:
        self.shared = shared
        self.key = key
        self.owner = owner
        self.local = SessionEventStore(shared.max_events)

    async def store_event(self, stream_id: str, message: JSONRPCMessage | None) -> str:
        wire = PRIMING if message is None else message.model_dump_json(by_alias=True, exclude_unset=True).encode()
        event_id = await self.shared.add(self.key, self.owner, stream_id, wire)
        return event_id if event_id is not None else await self.local.store_event(stream_id, message)

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        if "-" not in last_event_id:  # kept here while Redis was away
            return await self.local.replay_events_after(last_event_id, send_callback)
        found = await self.shared.after(self.key, self.owner, last_event_id)
        if found is None:
            return None
        stream_id, missed = found
        for event_id, wire in missed:
            await send_callback(EventMessage(jsonrpc_message_adapter.validate_json(wire), event_id))
        return stream_id


class ReplayElsewhere:
    """In front of the SDK: a `GET` with `Last-Event-ID` for a session this replica does not hold
    is answered from `SharedEvents` when it missed something there (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, events: SharedEvents, is_open: Callable[[str], bool]) -> None:
        self.app = app
        self.events = events
        self.is_open = is_open

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and await self.replayed(scope, send):
            return
        await self.app(scope, receive, send)

    async def replayed(self, scope: Scope, send: Send) -> bool:
        headers: dict[bytes, bytes] = dict(scope["headers"])
        session, last = headers.get(b"mcp-session-id"), headers.get(b"last-event-id")
        if session is None or last is None:
            return False
        session_id = session.decode("latin-1")
        if self.is_open(session_id):
            return False  # the SDK replays its own sessions
        found = await self.events.after(self.events.key_of(session_id), owner_in(scope), last.decode("latin-1"))
        if found is None or not found[1]:
            return False  # nothing to give: the SDK answers 404 and the client opens a new session
        await send_events(send, session, found[1])
        return True


async def send_events(send: Send, session: bytes, events: list[tuple[str, bytes]]) -> None:
    """One complete SSE response of `events` (the SDK's wire form: `event: message`, id, data)."""
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"text/event-stream"),
            (b"cache-control", b"no-cache, no-transform"),
            (b"mcp-session-id", session),
        ],
    }
    await send(start)
    body = b"".join(b"event: message\r\nid: %s\r\ndata: %s\r\n\r\n" % (eid.encode(), data) for eid, data in events)
    await send({"type": "http.response.body", "body": body, "more_body": False})
