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

from loguru import logger

from ..redaction import redact
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


def configure_audit(destination: str) -> None:
    """Send audit records to `destination`: "stdout", "stderr", "off", or a file path (appended)."""
    if destination == "off":
        return
    stream: TextIO = {"stdout": sys.stdout, "stderr": sys.stderr}.get(destination) or Path(destination).open(  # noqa: SIM115 - kept open for the life of the process
        "a", encoding="utf-8"
    )
    logger.add(
        background(stream),
        level="INFO",
        format="{extra[audit_json]}\n",
        filter=lambda record: "audit_json" in record["extra"],
        colorize=False,
        diagnose=False,
        backtrace=False,
    )


def record_tool_call(**fields: Any) -> None:
    """Write one audit record (the JSON is built here, on the caller, so the sink only writes)."""
    logger.bind(audit_json=json.dumps({"type": "tool_call", **fields}, default=str, ensure_ascii=False)).info("audit")
