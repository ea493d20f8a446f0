"""Refuse an `MCP-Protocol-Version` this server does not speak, naming the versions it does.

The SDK sends every version it does not know to its 2026-07-28 handler, which answers a
2025-era message with "params._meta must be an object carrying ... envelope keys" and a
2026-era one with `supported: ["2026-07-28"]`: both true of that handler, both wrong about
this server, which also speaks every handshake version. The spec answer is the same 400;
this one says what to send instead. A body in the 2026-07-28 envelope is left to the SDK, whose
checks of that era (the header against the envelope first) stay as they are.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic_core import from_json
from starlette.types import Receive, Scope, Send

from ..refusal import REFUSAL_REASON
from ..request_body import peek_body

SERVED_VERSIONS = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
_SERVED = frozenset(v.encode() for v in SERVED_VERSIONS)
_HEADER = b"mcp-protocol-version"
UNSUPPORTED_PROTOCOL_VERSION = -32022
"""The 2026-07-28 error code for this refusal (the SDK's own, so clients read it the same way)."""
_SHOWN_CHARACTERS = 64
MODERN_ENVELOPE_KEY = "io.modelcontextprotocol/protocolVersion"


def unserved_version(scope: Scope) -> str | None:
    """The request's `MCP-Protocol-Version` if it names none this server speaks; else None
    (a request without the header is a 2025-era initialize or an older client: served)."""
    for name, value in scope["headers"]:
        if name == _HEADER:
            return None if value in _SERVED else value.decode("latin-1")
    return None


async def refuse_unless_modern(
    requested: str, scope: Scope, receive: Receive, send: Send, max_body_bytes: int
) -> Receive | None:
    """Answer 400 naming every served version, unless the body carries a 2026-07-28 envelope.

    A body with that envelope is the SDK's to judge (a header that disagrees with its `_meta` is
    a routing-header mismatch, -32020, before it is a version question): the returned `receive`
    replays it. None means the request was answered here.
    """
    body, replay = await peek_body(receive, max_body_bytes)
    message = _decoded(body)
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    if isinstance(meta, dict) and MODERN_ENVELOPE_KEY in meta:
        return replay
    shown = requested[:_SHOWN_CHARACTERS] + ("..." if len(requested) > _SHOWN_CHARACTERS else "")
    error = {
        "code": UNSUPPORTED_PROTOCOL_VERSION,
        "message": (
            f"Unsupported MCP-Protocol-Version {shown!r}. This server speaks "
            f"{', '.join(MODERN_PROTOCOL_VERSIONS)} (every request carries its own _meta, no initialize) "
            f"and {', '.join(HANDSHAKE_PROTOCOL_VERSIONS)} (after initialize, which may omit the header): "
            "send one of them."
        ),
        "data": {"supported": list(SERVED_VERSIONS), "requested": shown},
    }
    payload = json.dumps({"jsonrpc": "2.0", "id": _request_id(message), "error": error}, separators=(",", ":")).encode()
    scope[REFUSAL_REASON] = "unsupported_protocol_version"
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
    return None


def _decoded(body: bytes | None) -> Any:
    """The body as JSON, or None when there is none or it is not JSON (too deep included)."""
    if not body:
        return None
    try:
        return from_json(body)
    except ValueError:
        return None


def _request_id(message: Any) -> str | int | None:
    """The JSON-RPC id of a single request, or None (JSON-RPC's id for "could not tell")."""
    request_id = message.get("id") if isinstance(message, dict) else None
    valid = isinstance(request_id, str | int) and not isinstance(request_id, bool)
    return request_id if valid else None
