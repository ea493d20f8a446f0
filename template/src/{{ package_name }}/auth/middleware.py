"""Pure ASGI authentication and per-tool authorization in front of the MCP endpoint.

On success the SDK sees exactly what its own auth middleware would produce (`scope["user"]`
and the access-token context variable), so `get_access_token()` and legacy-session binding
work unchanged; on failure the request never reaches the SDK. Refusals follow RFC 6750:
401 with a Bearer challenge (no error code when no credential was sent), 403 with
`error="insufficient_scope"` and every scope the tool needs.

The brute-force guard never costs a caller with a valid credential: every credential is
verified, and only an invalid one from an address with too many recent failures is answered
429 instead of 401. A credential that cannot be checked (the issuer's keys are unreachable)
gets 503 and is not counted as a failure: an outage is not a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from loguru import logger
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.authentication import AuthCredentials
from starlette.types import ASGIApp, Receive, Scope, Send

from ..principal import PerToken
from ..refusal import Refusal, refusal, retry_later
from ..request_body import BodyTooDeepError, called_tool, peek_body
from .scopes import ScopePolicy
from .sealed import sealed_credentials
from .throttle import FailureThrottle
from .verifier import CredentialCheckUnavailableError, Verifier

_HANDSHAKE_VERSIONS = frozenset(v.encode() for v in HANDSHAKE_PROTOCOL_VERSIONS)


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


class AuthGate:
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
        accept_api_key_header: bool = False,
        on_refusal: Callable[[str], None] = lambda _reason: None,
    ) -> None:
        self.app = app
        self.verifiers = tuple(verifiers)
        self.challenge = challenge
        self.policy = policy
        self.throttle = throttle
        self.max_body_bytes = max_body_bytes
        self.accept_api_key_header = accept_api_key_header
        # What the SDK and the scope check need of a token, built once per verified token and
        # shared by its requests, so sealed: nothing a request does can change them.
        self._authenticated: PerToken[tuple[AuthenticatedUser, AuthCredentials, frozenset[str]]] = PerToken(
            lambda token: (*sealed_credentials(token), frozenset(token.scopes))
        )
        self.on_refusal = on_refusal
        """Told the reason of every refusal: missing_credential, invalid_credential, insufficient_scope,
        throttled, unverifiable, malformed_body."""
        # Built once: refusals are on the hot path of every scanner and misconfigured client.
        how = "'Authorization: Bearer <token>'" + (" or 'X-API-Key: <key>'" if accept_api_key_header else "")
        self.missing = refusal(
            401,
            "unauthorized",
            f"Authentication required: send {how}.",
            headers={"www-authenticate": challenge},
            reason="missing_credential",
        )
        self.invalid = refusal(
            401,
            "invalid_token",
            "The credential is invalid, expired, or not issued for this server.",
            headers={"www-authenticate": f'{challenge}, error="invalid_token"'},
            reason="invalid_credential",
        )
        self.unverifiable = retry_later(
            503,
            "credential_check_unavailable",
            "The credential cannot be checked right now (the issuer's signing keys are unreachable); retry.",
            5,
        )
        self.too_deep = refusal(
            400,
            "malformed_body",
            f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels or is not valid JSON.",
            reason="malformed_body",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        credential = bearer_credential(scope["headers"], accept_api_key_header=self.accept_api_key_header)
        if credential is None:
            await self._refuse(self.missing, client, scope, send)
            return
        try:
            token = await self._verify(credential)
        except CredentialCheckUnavailableError:
            await self._refuse(self.unverifiable, client, scope, send)
            return
        if token is None:
            # Counted only now: a valid credential from the same address is never refused.
            retry_after = await self.throttle.failure(client)
            await self._refuse(self._throttled(retry_after) if retry_after else self.invalid, client, scope, send)
            return

        user, credentials, granted = self._authenticated(token)
        if scope["method"] == "POST" and self.policy.hidden_tools(granted):
            try:
                tool, receive = await self._called_tool(scope, receive)
            except BodyTooDeepError:
                await self._refuse(self.too_deep, client, scope, send)
                return
            missing = self.policy.missing(tool, granted) if tool else []
            if tool and missing:
                await self._refuse(self._forbidden(tool, missing), client, scope, send)
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
        body, replay = await peek_body(receive, self.max_body_bytes)
        return (None if body is None else called_tool(body)), replay

    async def _refuse(self, response: Refusal, client: str, scope: Scope, send: Send) -> None:
        self.on_refusal(response.reason)
        logger.bind(reason=response.reason, client=client).debug("MCP request refused: {}", response.reason)
        await response.send(scope, send)

    def _forbidden(self, tool: str, missing: list[str]) -> Refusal:
        needed = " ".join(self.policy.required(tool))
        challenge = f'Bearer error="insufficient_scope", scope="{needed}", {self.challenge.removeprefix("Bearer ")}'
        description = f"Tool {tool!r} needs scope {' '.join(missing)}, which this credential does not grant."
        return refusal(
            403, "insufficient_scope", description, headers={"www-authenticate": challenge}, reason="insufficient_scope"
        )

    def _throttled(self, retry_after: int) -> Refusal:
        return retry_later(
            429,
            "too_many_failed_attempts",
            "Too many failed authentication attempts from this address; check the credential. "
            "A valid credential is still accepted.",
            retry_after,
        )


MAX_JSON_DEPTH = 200
"""Nesting beyond this is refused here, as the SDK's own parser refuses it (it never recurses)."""
