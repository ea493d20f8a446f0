"""Change notifications: who listens, how a change reaches them on every replica, and their end at drain.

2026-07-28 clients open a `subscriptions/listen` stream (the SDK's `ListenHandler`); older clients
with a session send `resources/subscribe` (served here: the SDK registers no handler for it). Both
are fed by one `SubscriptionBus`: in process by default, or Redis pub/sub when
`HTTP__SUBSCRIPTIONS_REDIS_URL` is set, so a change published on one replica reaches listeners on
every replica. Events carry only what changed (a URI or a list name), never content: a listener
re-reads through its own, authorised, requests.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from typing import Any

import anyio
from loguru import logger
from mcp.server import MCPServer
from mcp.server.context import ServerRequestContext
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    ToolsListChanged,
)
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

MAX_URIS_PER_SESSION = 100
"""`resources/subscribe` URIs one legacy session may hold; more is refused (memory is per replica)."""
BACKLOG = 1024
"""Events waiting for legacy sessions; past it new ones are dropped (with a warning), never blocking publishers."""
PUBLISH_TIMEOUT_SECONDS = 1.0
RECONNECT_SECONDS = 1.0

_NAMED: dict[str, ServerEvent] = {
    "tools": ToolsListChanged(),
    "prompts": PromptsListChanged(),
    "resources": ResourcesListChanged(),
}


def encode(event: ServerEvent) -> str:
    """The wire form of `event` on the Redis channel: `{"list": name}` or `{"uri": uri}`."""
    if isinstance(event, ResourceUpdated):
        return json.dumps({"uri": event.uri}, separators=(",", ":"))
    name = next(name for name, named in _NAMED.items() if named == event)
    return json.dumps({"list": name}, separators=(",", ":"))


def decode(raw: bytes | str) -> ServerEvent | None:
    """The event in a channel message, or None for anything else (another writer, a bad message)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    uri = message.get("uri")
    if isinstance(uri, str) and len(message) == 1:
        return ResourceUpdated(uri=uri)
    name = message.get("list")
    return _NAMED.get(name) if isinstance(name, str) and len(message) == 1 else None


class RedisSubscriptionBus:
    """A `SubscriptionBus` over Redis pub/sub: `publish` goes to the channel, and `run` (one task
    per replica, for the app's lifetime) hands every event on the channel to this replica's
    listeners, including the events this replica published. With Redis unreachable a change is
    delivered on this replica only, and the relay reconnects every second."""

    def __init__(self, url: str, channel: str) -> None:
        from redis.asyncio import Redis  # the `redis` extra: imported only where it is used

        # Publishing is bounded per step; the subscriber waits for messages indefinitely.
        self.publisher = Redis.from_url(url, socket_timeout=PUBLISH_TIMEOUT_SECONDS, socket_connect_timeout=1.0)
        self.subscriber = Redis.from_url(url, socket_connect_timeout=1.0, health_check_interval=30)
        self.channel = channel
        self.local = InMemorySubscriptionBus()

    async def publish(self, event: ServerEvent) -> None:
        from redis.exceptions import RedisError

        try:
            with anyio.fail_after(PUBLISH_TIMEOUT_SECONDS):
                await self.publisher.publish(self.channel, encode(event))
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning(
                "Change event not shared with other replicas (Redis: {}); delivered here only", type(exc).__name__
            )
            await self.local.publish(event)

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        return self.local.subscribe(listener)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Relay the channel to local listeners until cancelled; started once subscribed (or failed once)."""
        from redis.exceptions import RedisError

        started = False
        while True:
            try:
                async with self.subscriber.pubsub() as pubsub:
                    with anyio.fail_after(PUBLISH_TIMEOUT_SECONDS):  # a frozen Redis must not hold start-up
                        await pubsub.subscribe(self.channel)
                    if not started:
                        started = True
                        task_status.started()
                    async for message in pubsub.listen():
                        event = decode(message["data"]) if message.get("type") == "message" else None
                        if event is not None:
                            await self.local.publish(event)
            except (RedisError, OSError, TimeoutError) as exc:
                logger.warning("Change events from other replicas paused (Redis: {}); retrying", type(exc).__name__)
            if not started:
                started = True
                task_status.started()
            await anyio.sleep(RECONNECT_SECONDS)

    async def aclose(self) -> None:
        await self.publisher.aclose()
        await self.subscriber.aclose()


class LegacySubscriptions:
    """`resources/subscribe` and `resources/unsubscribe` for sessions of 2025-11-25 and older:
    each session's URIs, and `notifications/resources/updated` to the sessions that asked, sent
    on their standing GET stream by `run` (one task for the app's lifetime). Sessions are held
    weakly (by their connection: the SDK builds a `ServerSession` per request): an ended session
    drops its subscriptions with it."""

    def __init__(self, bus: Any) -> None:
        self.sessions: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self.send, self.receive = anyio.create_memory_object_stream[str](BACKLOG)
        self.unsubscribe_bus = bus.subscribe(self.deliver)

    def install(self, mcp: MCPServer[Any]) -> None:
        """Serve both methods on `mcp` (which then advertises `resources.subscribe` to older clients)."""
        server = mcp._lowlevel_server  # private: MCPServer has no public hook for these two methods
        server.add_request_handler("resources/subscribe", SubscribeRequestParams, self.subscribe)
        server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self.unsubscribe)

    async def subscribe(self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        uris = self.sessions.setdefault(connection_of(ctx), set())
        uri = str(params.uri)
        if uri not in uris and len(uris) >= MAX_URIS_PER_SESSION:
            raise MCPError(INVALID_PARAMS, f"A session may subscribe to at most {MAX_URIS_PER_SESSION} resources")
        uris.add(uri)
        return EmptyResult()

    async def unsubscribe(self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        self.sessions.get(connection_of(ctx), set()).discard(str(params.uri))
        return EmptyResult()

    def deliver(self, event: ServerEvent) -> None:
        """Bus listener: queue a resource update for `run` (synchronous, never raises)."""
        if not isinstance(event, ResourceUpdated):
            return  # list changes reach 2026-07-28 listeners; older clients are not offered listChanged
        try:
            self.send.send_nowait(event.uri)
        except anyio.WouldBlock:
            logger.warning("Resource update for legacy sessions dropped: {} already waiting", BACKLOG)

    async def run(self) -> None:
        async for uri in self.receive:
            for session, uris in list(self.sessions.items()):
                if uri not in uris:
                    continue
                try:
                    with anyio.fail_after(PUBLISH_TIMEOUT_SECONDS):
                        await session.send_resource_updated(uri)
                except Exception as exc:  # noqa: BLE001 - a gone session must not stop the others
                    logger.debug("Resource update not delivered to a session ({})", type(exc).__name__)


def connection_of(ctx: ServerRequestContext[Any, Any]) -> Any:
    """The session's connection, which outlives the request and sends on its standing GET stream."""
    return getattr(ctx.session, "_connection", ctx.session)  # private: ServerSession exposes no accessor


def close_listen_streams(mcp: MCPServer[Any]) -> None:
    """End every open `subscriptions/listen` stream cleanly (each sends its final result), so a
    drain is not held open by streams that never end on their own (python-sdk #2150)."""
    entry = mcp._lowlevel_server.get_request_handler("subscriptions/listen")  # private: no public accessor
    close = getattr(entry.handler, "close", None) if entry is not None else None
    if close is not None:
        close()


class ChangeNotifications:
    """The bus every change goes through, and what runs for it for the app's lifetime: the Redis
    relay (with `HTTP__SUBSCRIPTIONS_REDIS_URL`) and the legacy sessions' forwarder (with sessions)."""

    def __init__(self, *, enabled: bool, redis_url: str | None, channel: str, legacy_sessions: bool) -> None:
        self.enabled = enabled
        self.redis = RedisSubscriptionBus(redis_url, channel) if enabled and redis_url else None
        self.bus: Any = self.redis or InMemorySubscriptionBus()
        self.legacy = LegacySubscriptions(self.bus) if enabled and legacy_sessions else None

    def subscriptions(self) -> Any:
        """`MCPServer(subscriptions=...)`: the bus, or False to leave `subscriptions/listen` unserved."""
        return self.bus if self.enabled else False

    def attach(self, mcp: MCPServer[Any]) -> None:
        if self.legacy is not None:
            self.legacy.install(mcp)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Relay and forward until cancelled; started once the relay is subscribed to Redis."""
        try:
            async with anyio.create_task_group() as tasks:
                if self.redis is not None:
                    await tasks.start(self.redis.run)
                if self.legacy is not None:
                    tasks.start_soon(self.legacy.run)
                task_status.started()
        finally:
            if self.redis is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await self.redis.aclose()
