"""Who is calling: the one accessor tools, logs and limits use for the verified caller.

The principal comes from the credential the HTTP edge verified (an API key or an OAuth token);
its `id` is stable per caller and safe to log. stdio and in-process calls have no credential:
they run as the trusted local user.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller."""

    id: str
    """Stable, loggable identity: `<issuer>|<subject>` for OAuth, the key id for API keys."""

    client_id: str
    subject: str | None
    issuer: str | None
    scopes: frozenset[str]
    authenticated: bool = True


LOCAL = Principal(id="local", client_id="local", subject=None, issuer=None, scopes=frozenset(), authenticated=False)
"""The caller on stdio or in-process: trusted, with no credential and no scopes to check."""


def principal_id(token: AccessToken) -> str:
    """The stable identity behind a verified token: `<issuer>|<subject>`, else its client id."""
    issuer = (token.claims or {}).get("iss")
    return f"{issuer}|{token.subject}" if issuer and token.subject else token.client_id


_MAX_REMEMBERED = 4096
_remembered: dict[int, tuple[AccessToken, Principal]] = {}
"""Principals by token identity. Verified tokens are reused (API keys are built once, OAuth
tokens are cached for a few seconds), so each request's several lookups build nothing. The
entry holds its token, so the id cannot be reused while it is remembered."""


def current_principal() -> Principal:
    """The caller of the request being handled (LOCAL when there is no credential)."""
    token = get_access_token()
    if token is None:
        return LOCAL
    hit = _remembered.get(id(token))
    if hit is not None and hit[0] is token:
        return hit[1]
    principal = principal_of(token)
    if len(_remembered) >= _MAX_REMEMBERED:
        _remembered.clear()
    _remembered[id(token)] = (token, principal)
    return principal


def principal_of(token: AccessToken) -> Principal:
    """The principal a verified token stands for."""
    issuer = (token.claims or {}).get("iss")
    return Principal(
        id=principal_id(token),
        client_id=token.client_id,
        subject=token.subject,
        issuer=str(issuer) if issuer else None,
        scopes=frozenset(token.scopes),
    )
