"""Pure ASGI authentication in front of the MCP endpoint.

On success the SDK sees exactly what its own auth middleware would produce (`scope["user"]`
and the access-token context variable), so `get_access_token()` and legacy-session binding
work unchanged; on failure the request never reaches the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.types import ASGIApp, Receive, Scope, Send


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
    """Refuse unauthenticated requests to the MCP endpoint with 401 and a `WWW-Authenticate` challenge."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifiers: Sequence[Verifier],
        challenge: str,
        protected_path: str = "/mcp",
        accept_api_key_header: bool = False,
    ) -> None:
        self.app = app
        self.verifiers = tuple(verifiers)
        self.protected_paths = {protected_path, protected_path + "/"}
        self.accept_api_key_header = accept_api_key_header
        # Built once: refusals are on the hot path of every scanner and misconfigured client.
        self.missing = _refusal(
            challenge,
            "Authentication required: send 'Authorization: Bearer <token>'"
            + (" or 'X-API-Key: <key>'." if accept_api_key_header else "."),
            error=None,
        )
        self.invalid = _refusal(
            challenge, "The credential is invalid, expired, or not issued for this server.", error="invalid_token"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.protected_paths:
            await self.app(scope, receive, send)
            return
        credential = bearer_credential(scope["headers"], accept_api_key_header=self.accept_api_key_header)
        if credential is None:
            await self.missing(send)
            return
        token = await self._verify(credential)
        if token is None:
            await self.invalid(send)
            return
        user = AuthenticatedUser(token)
        scope["user"] = user
        scope["auth"] = AuthCredentials(token.scopes)
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


class _Refusal:
    def __init__(self, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.start = {"type": "http.response.start", "status": 401, "headers": headers}
        self.body = {"type": "http.response.body", "body": body}

    async def __call__(self, send: Send) -> None:
        await send(self.start)
        await send(self.body)


def _refusal(challenge: str, description: str, *, error: str | None) -> _Refusal:
    # RFC 6750 section 3.1: a request without credentials gets a challenge without an error code.
    www_authenticate = f'{challenge}, error="{error}"' if error else challenge
    body = json.dumps({"error": error or "unauthorized", "error_description": description}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", www_authenticate.encode()),
        (b"cache-control", b"no-store"),
    ]
    return _Refusal(headers, body)
