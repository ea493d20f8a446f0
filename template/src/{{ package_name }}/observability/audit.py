"""The audit trail: one record per tool call, to its own sink, for regulated deployments.

A record says who called which tool with what (a SHA-256 digest of the canonical arguments
and a preview with credentials redacted and long values cut), how it ended, how long it took,
and the idempotency key when there was one. `replay` re-sends a recorded call.
"""

from __future__ import annotations

import hashlib
import json
import sys
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from .background_sink import BackgroundSink
from .logging import FIELD_CHARS, background, one_line
from .redaction import SECRET_NAME_PARTS, might_hold_credential, redact

WHOLE_UP_TO = 1024
"""Arguments whose canonical JSON is at most this long, with nothing secret-looking, are kept whole."""
MAX_STRING = 256
MAX_ITEMS = 20
MAX_DEPTH = 4
MAX_PREVIEW = 8192
"""Characters of names and values one preview holds in all (items past it are shown as `…`), so
that many small values cannot make a record as large as the request."""


def canonical_json(arguments: object) -> str:
    """The arguments as canonical JSON (sorted keys, no spaces): what the digest is taken of."""
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(arguments: object) -> str:
    """SHA-256 of the arguments in canonical JSON."""
    return digest_of(canonical_json(arguments))


def digest_of(canonical: str) -> str:
    """SHA-256 of an already canonical JSON text."""
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def preview_json(arguments: object, canonical: str) -> tuple[str, bool]:
    """The preview of `arguments` as JSON text, and whether it is complete.

    Small arguments with nothing secret-looking in them are kept whole: their canonical JSON
    (already made for the digest) is the preview. Searching that text for secret-looking names
    and credential shapes can only over-report (then `preview` decides field by field), since
    JSON escaping never creates or hides a run of letters. Anything else gets `preview`.
    """
    if len(canonical) <= WHOLE_UP_TO and not might_hold_credential(canonical) and not looks_secret(canonical):
        return canonical, True
    shown, complete = preview(arguments)
    return json.dumps(shown, ensure_ascii=False, default=str), complete


def looks_secret(text: str) -> bool:
    """Whether `text` contains a secret-looking name (for a whole argument text: anywhere in it).

    The names `redact` masks values of (`redaction.SECRET_NAME_PARTS`), as case-folded substrings."""
    folded = text.casefold()
    return any(part in folded for part in SECRET_NAME_PARTS)


def preview(value: object, depth: int = 0) -> tuple[object, bool]:
    """A copy safe to store, and whether it is complete (nothing redacted or cut)."""
    budget = MAX_PREVIEW

    def shown(value: object, depth: int) -> tuple[object, bool]:
        nonlocal budget
        if depth >= MAX_DEPTH or budget <= 0:
            return "…", False
        if isinstance(value, str):
            clean = redact(value, min(MAX_STRING, budget))
            budget -= len(clean)
            return clean, clean == value
        if isinstance(value, dict):
            out: dict[str, object] = {}
            complete = len(value) <= MAX_ITEMS
            for key, item in islice(value.items(), MAX_ITEMS):
                name = str(key)
                shown_name = redact(name, MAX_STRING)  # a name can quote a credential too
                budget -= len(shown_name)
                if len(name) > MAX_STRING or looks_secret(name):
                    out[shown_name], item_complete = "***", False
                else:
                    out[shown_name], item_complete = shown(item, depth + 1)
                complete = complete and item_complete and shown_name == key
            return out, complete
        if isinstance(value, list):
            items = [shown(item, depth + 1) for item in value[:MAX_ITEMS]]
            return [v for v, _ in items], len(value) <= MAX_ITEMS and all(c for _, c in items)
        budget -= 8  # a number, true, false or null, with its punctuation
        return value, True

    return shown(value, depth)


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


def record_tool_call(*, arguments_preview_json: str, **fields: Any) -> None:
    """Write one audit record: serialized here, written by the sink's thread (no logging machinery).
    The preview arrives as JSON text (see `preview_json`)."""
    if _sink is not None:
        # The tool name, principal and idempotency key come from the caller too: bounded and redacted.
        shown = {k: redact(v, FIELD_CHARS) if isinstance(v, str) else v for k, v in fields.items()}
        record = {"type": "tool_call", **shown, "arguments_preview": json.loads(arguments_preview_json)}
        _sink(one_line(json.dumps(record, default=str, ensure_ascii=False)) + "\n")
