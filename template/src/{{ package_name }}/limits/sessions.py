"""A cap on the legacy sessions one caller holds open (stateful legacy mode only).

The SDK caps sessions for the whole server; without a cap per caller, one credential can open
them all and every other caller's `initialize` is refused until they idle out. Sessions are
counted per verified principal (per client address without authentication), from the
`Mcp-Session-Id` the SDK returns, and forgotten as soon as the SDK has ended them.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..refusal import retry_later
from .rate_limit import caller_key

_HANDSHAKE_VERSIONS = frozenset(v.encode() for v in HANDSHAKE_PROTOCOL_VERSIONS)


class SessionQuota:
    """429 for a caller that asks for a new legacy session while holding `per_principal` of them."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_principal: int,
        is_open: Callable[[str], bool],
        on_refusal: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.per_principal = per_principal
        self.is_open = is_open
        """Whether the SDK still holds the session with this id."""
        self.on_refusal = on_refusal
        self._held: dict[str, set[str]] = {}
        self._opening: dict[str, int] = {}
        self.refusal = retry_later(
            429,
            "too_many_sessions",
            f"This caller already holds {per_principal} open sessions (LIMITS__MAX_SESSIONS_PER_PRINCIPAL): "
            "reuse one, end one with DELETE, or wait until one idles out.",
            60,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._opens_session(scope):
            await self.app(scope, receive, send)
            return
        key = caller_key(scope)
        held = {session for session in self._held.get(key, ()) if self.is_open(session)}
        opening = self._opening.get(key, 0)
        if len(held) + opening >= self.per_principal:
            self._held[key] = held
            self.on_refusal()
            await self.refusal.send(scope, send)
            return
        if held:
            self._held[key] = held
        else:
            self._held.pop(key, None)
        self._opening[key] = opening + 1
        pending = True

        def done_opening() -> None:
            nonlocal pending
            if pending:
                pending = False
                left = self._opening[key] - 1
                if left:
                    self._opening[key] = left
                else:
                    del self._opening[key]

        async def note_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                for name, value in message.get("headers", ()):
                    if name.lower() == b"mcp-session-id":
                        # Held from now on, and no longer opening: counted once, before the
                        # client (which may already be asking for the next one) sees the answer.
                        self._held.setdefault(key, set()).add(value.decode("latin-1"))
                        done_opening()
            await send(message)

        try:
            await self.app(scope, receive, note_session)
        finally:
            done_opening()

    def _opens_session(self, scope: Scope) -> bool:
        """A legacy-era POST without a session id: the SDK would open a session for it."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        version = None
        for name, value in scope["headers"]:
            if name == b"mcp-session-id":
                return False
            if name == b"mcp-protocol-version":
                version = value
        return version is None or version in _HANDSHAKE_VERSIONS
