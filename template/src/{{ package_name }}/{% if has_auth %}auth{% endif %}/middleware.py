"""Pure ASGI authentication and per-tool authorization in front of the MCP endpoint.

On success the SDK sees exactly what its own auth middleware would produce (`scope["user"]`
and the access-token context variable), so `get_access_token()` and legacy-session binding
work unchanged; on failure the request never reaches the SDK. Refusals follow RFC 6750:
401 with a Bearer challenge (no error code when no credential was sent), 403 with
`error="insufficient_scope"` and every scope the tool needs, 429 while a client is locked
out for repeated failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from loguru import logger
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.authentication import AuthCredentials
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..principal import PerToken
from ..scopes import ScopePolicy
from .throttle import FailureThrottle

_HANDSHAKE_VERSIONS = frozenset(v.encode() for v in HANDSHAKE_PROTOCOL_VERSIONS)


class Verifier(Protocol):
    """One way of turning a presented credential into a principal."""

    def claims(self, token: str) -> bool:
        """Whether this verifier is responsible for credentials shaped like `token`."""

    async def verify_token(self, token: str) -> AccessToken | None:
        """The principal behind `token`, or None when it is not valid."""


def bearer_credential(headers: Sequence[tuple[bytes, bytes]], *, accept_api_key_header: bool) -> str | None:
    """The credential from `Authorization: Bearer`, else from `X-API-Key`; never from the query string."""
    api_key: str | None = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credential = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                return credential.strip()
        elif name == b"x-api-key" and accept_api_key_header:
            api_key = value.decode("latin-1").strip() or None
    return api_key


class AuthMiddleware:
    """Authenticate every request to the MCP endpoint, then check the scopes of the tool it calls."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifiers: Sequence[Verifier],
        challenge: str,
        policy: ScopePolicy,
        throttle: FailureThrottle,
        max_body_bytes: int,
        protected_path: str = "/mcp",
        accept_api_key_header: bool = False,
        on_refusal: Callable[[str], None] = lambda _reason: None,
    ) -> None:
        self.app = app
        self.verifiers = tuple(verifiers)
        self.challenge = challenge
        self.policy = policy
        self.throttle = throttle
        self.max_body_bytes = max_body_bytes
        self.protected_paths = {protected_path, protected_path + "/"}
        self.accept_api_key_header = accept_api_key_header
        # What the SDK and the scope check need of a token, built once per verified token.
        self._authenticated = PerToken(
            lambda token: (AuthenticatedUser(token), AuthCredentials(token.scopes), frozenset(token.scopes))
        )
        self.on_refusal = on_refusal
        """Told the reason of every refusal: missing_credential, invalid_credential, insufficient_scope, throttled."""
        # Built once: refusals are on the hot path of every scanner and misconfigured client.
        how = "'Authorization: Bearer <token>'" + (" or 'X-API-Key: <key>'" if accept_api_key_header else "")
        self.missing = _response(
            401,
            {"www-authenticate": challenge},
            {"error": "unauthorized", "error_description": f"Authentication required: send {how}."},
        )
        self.invalid = _response(
            401,
            {"www-authenticate": f'{challenge}, error="invalid_token"'},
            {
                "error": "invalid_token",
                "error_description": "The credential is invalid, expired, or not issued for this server.",
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.protected_paths:
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        retry_after = self.throttle.retry_after(client)
        if retry_after:
            await self._refuse("throttled", client, self._throttled(retry_after), scope, send)
            return
        credential = bearer_credential(scope["headers"], accept_api_key_header=self.accept_api_key_header)
        if credential is None:
            await self._refuse("missing_credential", client, self.missing, scope, send)
            return
        token = await self._verify(credential)
        if token is None:
            self.throttle.record_failure(client)
            await self._refuse("invalid_credential", client, self.invalid, scope, send)
            return

        user, credentials, granted = self._authenticated(token)
        if scope["method"] == "POST" and self.policy.hidden_tools(granted):
            tool, receive = await self._called_tool(scope, receive)
            missing = self.policy.missing(tool, granted) if tool else []
            if tool and missing:
                await self._refuse("insufficient_scope", client, self._forbidden(tool, missing), scope, send)
                return

        scope["user"] = user
        scope["auth"] = credentials
        reset = auth_context_var.set(user)
        try:
            await self.app(scope, receive, send)
        finally:
            auth_context_var.reset(reset)

    async def _verify(self, credential: str) -> AccessToken | None:
        for verifier in self.verifiers:
            if verifier.claims(credential):
                return await verifier.verify_token(credential)
        return None

    async def _called_tool(self, scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
        """The tool a POST calls, from the 2026-07-28 routing headers or else from the body.

        The SDK rejects a modern request whose headers disagree with its body, so the headers
        can be trusted there. Older eras carry the name only in the body: it is read (up to the
        body limit) and replayed unchanged to the SDK.
        """
        headers = dict(scope["headers"])
        version = headers.get(b"mcp-protocol-version")
        if version is not None and version not in _HANDSHAKE_VERSIONS:
            if headers.get(b"mcp-method") != b"tools/call":
                return None, receive
            name = headers.get(b"mcp-name")
            return (name.decode("latin-1") if name else None), receive
        buffered: list[Message] = []
        size = 0
        more = True
        while more and size <= self.max_body_bytes:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        tool = None if more else _tool_in(b"".join(m.get("body", b"") for m in buffered))

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        return tool, replay

    async def _refuse(self, reason: str, client: str, response: _Response, scope: Scope, send: Send) -> None:
        self.on_refusal(reason)
        scope["mcp.refusal"] = reason  # the request's log record says why
        logger.bind(reason=reason, client=client).debug("MCP request refused: {}", reason)
        await response(send)

    def _forbidden(self, tool: str, missing: list[str]) -> _Response:
        needed = " ".join(self.policy.required(tool))
        challenge = f'Bearer error="insufficient_scope", scope="{needed}", {self.challenge.removeprefix("Bearer ")}'
        description = f"Tool {tool!r} needs scope {' '.join(missing)}, which this credential does not grant."
        return _response(
            403, {"www-authenticate": challenge}, {"error": "insufficient_scope", "error_description": description}
        )

    def _throttled(self, retry_after: int) -> _Response:
        return _response(
            429,
            {"retry-after": str(retry_after)},
            {
                "error": "too_many_failed_attempts",
                "error_description": f"Too many failed authentication attempts; retry in {retry_after} s.",
            },
        )


def _tool_in(body: bytes) -> str | None:
    try:
        message: Any = json.loads(body)
    except ValueError:
        return None  # the SDK answers malformed JSON itself
    if isinstance(message, dict) and message.get("method") == "tools/call":
        params = message.get("params")
        if isinstance(params, dict) and isinstance(params.get("name"), str):
            return str(params["name"])
    return None


class _Response:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.start = {"type": "http.response.start", "status": status, "headers": headers}
        self.body = {"type": "http.response.body", "body": body}

    async def __call__(self, send: Send) -> None:
        await send(self.start)
        await send(self.body)


def _response(status: int, extra_headers: dict[str, str], payload: dict[str, str]) -> _Response:
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *((name.encode(), value.encode("latin-1", "replace")) for name, value in extra_headers.items()),
    ]
    return _Response(status, headers, body)
