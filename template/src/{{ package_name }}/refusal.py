"""One way for an edge layer to refuse an HTTP request: status, JSON body, headers, and the reason
the request's log record gives.

A refusal is built once and sent to many callers, so it is immutable and every send builds
fresh ASGI messages. A layer further out that adds a header (the request id does) then changes
only its own request's message, never the shared refusal: a shared, mutable response that
collected every caller's `X-Request-Id` and echoed them to strangers was the defect this
replaces (the class of CVE-2026-25536).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope, Send

REFUSAL_REASON = "mcp.refusal"
"""Scope key naming why the request was refused; the request's log record reports it."""

Headers = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class Refusal:
    """A complete refusal; `send` may be called for any number of requests at once."""

    status: int
    reason: str
    headers: Headers
    body: bytes

    async def send(self, scope: Scope, send: Send) -> None:
        """Answer the request with this refusal (new messages, a new header list, every time)."""
        scope[REFUSAL_REASON] = self.reason
        await send({"type": "http.response.start", "status": self.status, "headers": list(self.headers)})
        await send({"type": "http.response.body", "body": self.body})


def refusal(
    status: int,
    error: str,
    description: str,
    *,
    headers: Mapping[str, str] | None = None,
    reason: str | None = None,
    **fields: Any,
) -> Refusal:
    """Build a JSON refusal `{"error", "error_description", **fields}`; `reason` defaults to `error`."""
    body = json.dumps({"error": error, "error_description": description, **fields}).encode()
    all_headers = (
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(
            (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
            for name, value in (headers or {}).items()
        ),
    )
    return Refusal(status=status, reason=reason or error, headers=all_headers, body=body)


def retry_seconds(wait: float) -> int:
    """A wait as the whole seconds of `Retry-After` (at least 1)."""
    return max(1, math.ceil(wait))


def retry_later(status: int, error: str, description: str, seconds: int) -> Refusal:
    """A refusal with `Retry-After: seconds` (also in the body as `retry_after_seconds`).

    Not cached: waits vary per request, and a few microseconds per refusal buy memory that
    stays flat however many different waits an attacker provokes.
    """
    return refusal(status, error, description, headers={"retry-after": str(seconds)}, retry_after_seconds=seconds)
