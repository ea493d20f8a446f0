"""Log notifications to the client: what the server logs while handling a request, sent to its caller.

The same loguru records that become the JSON log lines (already cut to size and redacted, see
`logging.py`) are forwarded as `notifications/message` to the client whose request was being
handled when they were logged, and to no one else: the target lives in a context variable of
the request's task. Only the message and the logger name are sent, never a traceback or the
record's extra fields. Records below the operator's `OBSERVABILITY__LOG_LEVEL` never exist, so a
client cannot ask for more than the operator writes.

Clients of 2025-11-25 and older choose a level per session with `logging/setLevel` (until they
do, `OBSERVABILITY__CLIENT_LOG_LEVEL` applies; `off` sends nothing). 2026-07-28 clients opt in per
request (`_meta` log level); the SDK applies that filter itself.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from loguru import logger
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import LOG_LEVEL_META_KEY, EmptyResult, LoggingLevel, SetLevelRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .redaction import redact

if TYPE_CHECKING:
    from loguru import Message, Record

ClientLogLevel = Literal["off", "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]

MCP_LEVELS: Final[tuple[LoggingLevel, ...]] = get_args(LoggingLevel)
"""Severity ascending (RFC 5424 order, as the spec lists them)."""

FORWARDED_METHODS = frozenset({"tools/call", "resources/read", "prompts/get", "completion/complete"})
"""Requests whose log records reach their caller (never `initialize`: nothing may be sent before it ends)."""

MESSAGE_CHARS = 1024
"""What one notification carries of a message (cut, then redacted, like the log line)."""

MAX_QUEUED = 256
"""Records one request may have waiting to be sent; beyond that they are dropped (logs never block a call)."""


def mcp_level(levelno: int) -> LoggingLevel:
    """The MCP level of a loguru level number: TRACE/DEBUG debug, INFO info, SUCCESS notice, and so on."""
    if levelno >= 50:
        return "critical"
    if levelno >= 40:
        return "error"
    if levelno >= 30:
        return "warning"
    if levelno >= 25:
        return "notice"
    if levelno >= 20:
        return "info"
    return "debug"


@dataclass(frozen=True)
class _Target:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[tuple[LoggingLevel, str, str] | None]
    minimum: int  # index into MCP_LEVELS


_target: ContextVar[_Target | None] = ContextVar("client_log_target", default=None)


def _enqueue(target: _Target, item: tuple[LoggingLevel, str, str]) -> None:
    if target.queue.qsize() < MAX_QUEUED:
        target.queue.put_nowait(item)


def forward_record(message: Message) -> None:
    """The loguru sink: queue the record for the client of the request being handled, if any."""
    target = _target.get()
    if target is None:
        return
    record: Record = message.record
    level = mcp_level(record["level"].no)
    if MCP_LEVELS.index(level) < target.minimum:
        return
    item = (level, record["message"], str(record["extra"].get("logger", record["name"])))
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is target.loop:
        _enqueue(target, item)
    elif not target.loop.is_closed():  # a sync tool in a worker thread
        target.loop.call_soon_threadsafe(_enqueue, target, item)


def has_target(_record: Record) -> bool:
    """Loguru filter: only records logged while a client's request is handled reach `forward_record`."""
    return _target.get() is not None


def connection_of(ctx: Any) -> object:
    """What one legacy session shares across its requests: the SDK builds a `ServerSession` per
    request around the connection, and offers middleware no public way to it (private attribute)."""
    return getattr(ctx.session, "_connection", ctx.session)


class ClientLogs:
    """`logging/setLevel` (level per session) and the middleware forwarding a request's log records."""

    def __init__(self, default_level: ClientLogLevel) -> None:
        self.default_level = default_level
        self._levels: weakref.WeakKeyDictionary[object, LoggingLevel] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def level_of(self, ctx: Any) -> ClientLogLevel:
        """The level of the session `ctx` belongs to: what it set, else the default."""
        with self._lock:
            return self._levels.get(connection_of(ctx), self.default_level)

    async def set_level(self, ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        """`logging/setLevel`: remembered for this session only (another session keeps its own)."""
        with self._lock:
            self._levels[connection_of(ctx)] = params.level
        return EmptyResult()

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        """SDK middleware: while the request runs, its log records queue up; a task sends them."""
        if ctx.method not in FORWARDED_METHODS or ctx.request_id is None:
            return await call_next(ctx)
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            # 2026-07-28 requests opt in through `_meta`; the SDK drops what was not asked for.
            requested = (ctx.meta or {}).get(LOG_LEVEL_META_KEY)
            if requested not in MCP_LEVELS:
                return await call_next(ctx)
            minimum = MCP_LEVELS.index(requested)
        else:
            level = self.level_of(ctx)
            if level == "off":
                return await call_next(ctx)
            minimum = MCP_LEVELS.index(level)
        target = _Target(asyncio.get_running_loop(), asyncio.Queue(), minimum)
        sender = asyncio.get_running_loop().create_task(_send(ctx, target.queue))
        token = _target.set(target)
        try:
            return await call_next(ctx)
        finally:
            _target.reset(token)
            target.queue.put_nowait(None)  # end marker
            await sender


async def _send(ctx: Any, queue: asyncio.Queue[tuple[LoggingLevel, str, str] | None]) -> None:
    _target.set(None)  # what sending logs is not forwarded again
    while (item := await queue.get()) is not None:
        level, text, logger_name = item
        with warnings.catch_warnings():
            # Deprecated in 2026-07-28 only; the clients this serves speak a revision that has it.
            # No await inside: the filter is back before any other task runs.
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            sending = ctx.session.send_log_message(
                level=level,
                data=redact(text, MESSAGE_CHARS),
                logger=redact(logger_name, MESSAGE_CHARS),
                related_request_id=ctx.request_id,
            )
        try:
            await sending
        except Exception as exc:  # noqa: BLE001  # a gone client must not fail the call or lose the others
            logger.debug("A log notification was not delivered: {}", type(exc).__name__)
