"""The audit trail: one record per tool call, to its own sink, for regulated deployments.

A record says who called which tool with what (a SHA-256 digest of the canonical arguments
and a preview with credentials redacted and long values cut), how it ended, how long it took,
and the idempotency key when there was one. `replay` re-sends a recorded call.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from ..redaction import redact
from .background_sink import BackgroundSink
from .logging import background

SECRET_NAME = re.compile(r"(?i)pass(word)?|secret|token|api[_-]?key|credential|authorization|cookie")
MAX_STRING = 256
MAX_ITEMS = 20
MAX_DEPTH = 4


def digest(arguments: object) -> str:
    """SHA-256 of the arguments in canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def preview(value: object, depth: int = 0) -> tuple[object, bool]:
    """A copy safe to store, and whether it is complete (nothing redacted or cut)."""
    if depth >= MAX_DEPTH:
        return "…", False
    if isinstance(value, str):
        clean = redact(value)
        return (clean[:MAX_STRING] + "…") if len(clean) > MAX_STRING else clean, clean == value and len(
            value
        ) <= MAX_STRING
    if isinstance(value, dict):
        out: dict[str, object] = {}
        complete = len(value) <= MAX_ITEMS
        for key, item in list(value.items())[:MAX_ITEMS]:
            if SECRET_NAME.search(str(key)):
                out[str(key)], complete = "***", False
                continue
            out[str(key)], item_complete = preview(item, depth + 1)
            complete = complete and item_complete
        return out, complete
    if isinstance(value, list):
        items = [preview(item, depth + 1) for item in value[:MAX_ITEMS]]
        return [v for v, _ in items], len(value) <= MAX_ITEMS and all(c for _, c in items)
    return value, True


_sink: BackgroundSink | None = None


def configure_audit(destination: str | TextIO) -> None:
    """Send audit records to `destination`: "stdout", "stderr", "off", a file path (appended), or a stream."""
    global _sink  # one audit trail per process, configured at start-up
    if destination == "off":
        _sink = None
        return
    if isinstance(destination, str):
        stream: TextIO = {"stdout": sys.stdout, "stderr": sys.stderr}.get(destination) or Path(destination).open(  # noqa: SIM115 - kept open for the life of the process
            "a", encoding="utf-8"
        )
    else:
        stream = destination
    _sink = background(stream, role="audit")


def record_tool_call(**fields: Any) -> None:
    """Write one audit record: serialized here, written by the sink's thread (no logging machinery)."""
    if _sink is not None:
        _sink(json.dumps({"type": "tool_call", **fields}, default=str, ensure_ascii=False) + "\n")
