"""The credentials the current caller sent for upstreams it owns, readable without HTTP code.

An upstream with `caller_header` set is called with the caller's own credential for it (sent by
the client in that header) instead of a server-side token. The MCP access token itself is never
forwarded: the spec forbids token passthrough, since a token issued for this server must not
open another service. The tool middleware in `toolkit/caller_credentials.py` opens
`caller_credentials_from(...)` around each tool call; the upstream client reads `caller_credential`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

_credentials: ContextVar[Mapping[str, str]] = ContextVar("caller_credentials", default=MappingProxyType({}))


def caller_credential(header: str) -> str | None:
    """What the current caller sent in `header` (lower-case name), or None."""
    return _credentials.get().get(header)


@contextmanager
def caller_credentials_from(values: Mapping[str, str]) -> Iterator[None]:
    """Mark the code inside as running for a caller who sent these header values (a read-only copy)."""
    token = _credentials.set(MappingProxyType(dict(values)))
    try:
        yield
    finally:
        _credentials.reset(token)
