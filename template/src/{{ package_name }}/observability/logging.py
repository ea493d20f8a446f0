"""Loguru owns every log line: stdlib, uvicorn and SDK records are routed into it.

Configure before the SDK server is built: `MCPServer()` calls `logging.basicConfig`, which is
a no-op once the root logger has our handler. Records go to stderr (stdout belongs to the
stdio transport) through a queue, so the event loop never waits on the terminal or a pipe.

Every record, whoever logged it, is cut to a size and has credentials redacted on the way out:
the SDK's own records quote tool names, resource URIs and error texts as the peer sent them.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

from .background_sink import BackgroundSink
from .client_logs import forward_record, has_target
from .redaction import redact

if TYPE_CHECKING:
    from loguru import Record

# What one record may carry of a message, of each other text field, and of a traceback: longer
# text is cut (the cut said). Cut before redacting, so a huge text costs no more than a short one.
MESSAGE_CHARS = 4096
FIELD_CHARS = 1024
EXCEPTION_CHARS = 16384


def _name_the_logger(record: Record) -> None:
    # Records from stdlib loggers carry their own name; loguru's own records use the module.
    record["extra"].setdefault("logger", record["name"])


class _StatelessChatter(logging.Filter):
    """The SDK logs "Terminating session: None" at INFO after every stateless request: one line
    per call that says nothing, and the costliest record of the call to make. A real session's
    end is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Terminating session: None"


STATELESS_CHATTER = _StatelessChatter()


class InterceptHandler(logging.Handler):
    """Forward stdlib logging records to loguru, keeping the original logger name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.bind(logger=record.name).opt(exception=record.exc_info).log(level, record.getMessage())


def _exception_text(record: Record) -> str | None:
    exc = record["exception"]
    if exc is None or exc.type is None:
        return None
    # Formatted here rather than by loguru so it can be redacted; no locals are ever included.
    return redact("".join(traceback.format_exception(exc.type, exc.value, exc.traceback)), EXCEPTION_CHARS)


def _field(value: object) -> object:
    """A field that is not text, as a record may carry it: numbers as they are, else bounded text."""
    if value is None or isinstance(value, int | float):
        return value
    return redact(str(value), FIELD_CHARS)


def one_line(json_text: str) -> str:
    """`json_text` with U+2028, U+2029 and U+0085 escaped: `json.dumps(ensure_ascii=False)` keeps
    them, and consumers splitting lines the Unicode way would cut the record in two there."""
    if "\u2028" in json_text or "\u2029" in json_text or "\x85" in json_text:
        return json_text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")
    return json_text


def _json_format(record: Record) -> str:
    payload: dict[str, Any] = {
        "ts": record["time"].isoformat(),
        "level": record["level"].name,
        "message": redact(record["message"], MESSAGE_CHARS),
        **{
            k: redact(v, FIELD_CHARS) if isinstance(v, str) else _field(v)
            for k, v in record["extra"].items()
            if not k.startswith("_")
        },
    }
    exception = _exception_text(record)
    if exception is not None:
        payload["exception"] = exception
    record["extra"]["_json"] = one_line(json.dumps(payload, default=str, ensure_ascii=False))
    return "{extra[_json]}\n"


def _pretty_format(record: Record) -> str:
    extra = record["extra"]
    extra["_logger"] = redact(str(extra["logger"]), FIELD_CHARS)
    extra["_message"] = redact(record["message"], MESSAGE_CHARS)
    extra["_exception"] = _exception_text(record) or ""
    return (
        "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <8}</level> <cyan>{extra[_logger]}</cyan> "
        "{extra[_message]}\n{extra[_exception]}"
    )


_sinks: dict[str, BackgroundSink] = {}
_info_json: BackgroundSink | None = None
"""The JSON writer, when INFO records are written as JSON: `info_record` goes to it directly."""


def info_record(logger_name: str, message: str, fields: dict[str, Any]) -> None:
    """Write one INFO record carrying `fields`, exactly as loguru's JSON format would.

    The per-request record is the one written on every call; building it here skips loguru's
    frame lookup, record assembly and handler dispatch. Other formats go through loguru.
    """
    sink = _info_json
    if sink is None:
        logger.bind(**fields, logger=logger_name).info(message)
        return
    payload: dict[str, Any] = {
        "ts": datetime.now().astimezone().isoformat(),  # as loguru stamps its records
        "level": "INFO",
        "message": redact(message, MESSAGE_CHARS),
        **{k: redact(v, FIELD_CHARS) if isinstance(v, str) else _field(v) for k, v in fields.items()},
        "logger": logger_name,
    }
    sink(one_line(json.dumps(payload, default=str, ensure_ascii=False)) + "\n")


def background(stream: TextIO, *, role: str = "log") -> BackgroundSink:
    """A sink writing to `stream` off the event loop, replacing (after draining) the previous one
    of the same role; `flush_logs` waits for all of them."""
    previous = _sinks.pop(role, None)
    if previous is not None:
        previous.close()
    sink = _sinks[role] = BackgroundSink(stream)
    return sink


def flush_logs() -> None:
    """Wait until every record logged so far has been written."""
    for sink in list(_sinks.values()):
        sink.flush()


def silence_logging() -> None:
    """Write what is queued, then nothing more until `configure_logging` runs again (for tests
    that capture records: removing loguru's sinks alone would leave `info_record`'s writer on)."""
    global _info_json
    flush_logs()
    _info_json = None
    logger.remove()
    logger.add(lambda _message: None)


def configure_logging(level: str, *, json_lines: bool, sink: TextIO = sys.stderr) -> None:
    """Send every log record, from any library, to `sink` (stderr) through loguru."""
    global _info_json
    logger.remove()
    logger.configure(patcher=_name_the_logger)
    colorize = False if json_lines else sink.isatty()
    writer = background(sink)
    _info_json = writer if json_lines and logger.level(level).no <= logger.level("INFO").no else None
    logger.add(
        writer,  # the event loop only formats and queues; a thread writes
        level=level,
        format=_json_format if json_lines else _pretty_format,
        colorize=colorize,
        diagnose=False,  # never print variable values (tokens, arguments) in tracebacks
        backtrace=False,
    )
    # The same records, for the client whose request logged them (`client_logs`): nothing else.
    logger.add(forward_record, level=level, filter=has_target, format="{message}", catch=True)
    # The root level filters stdlib records before they are built, so libraries' DEBUG calls
    # cost nothing unless DEBUG is on.
    logging.basicConfig(handlers=[InterceptHandler()], level=logger.level(level).no, force=True)
    logging.getLogger("mcp.server.streamable_http").addFilter(STATELESS_CHATTER)  # added once
