"""Who is calling: the one accessor tools, logs and limits use for the verified caller.

The principal comes from the credential the HTTP edge verified (an API key or an OAuth token);
its `id` is stable per caller and safe to log. stdio and in-process calls have no credential:
they run as the trusted local user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

T = TypeVar("T")


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


class PerToken(Generic[T]):
    """What `build` makes of a verified token, made once per token object.

    Verifiers hand out the same token object for a key (built once) or for an OAuth token while
    it is cached, so per-request lookups build nothing. Bounded: cleared when full. An entry
    holds its token, so an id cannot be reused while it is remembered.
    """

    def __init__(self, build: Callable[[AccessToken], T], *, max_entries: int = 4096) -> None:
        self._build = build
        self._max_entries = max_entries
        self._made: dict[int, tuple[AccessToken, T]] = {}

    def __call__(self, token: AccessToken) -> T:
        hit = self._made.get(id(token))
        if hit is not None and hit[0] is token:
            return hit[1]
        made = self._build(token)
        if len(self._made) >= self._max_entries:
            self._made.clear()
        self._made[id(token)] = (token, made)
        return made


def current_principal() -> Principal:
    """The caller of the request being handled (LOCAL when there is no credential)."""
    token = get_access_token()
    return LOCAL if token is None else _principal_per_token(token)


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


_principal_per_token = PerToken(principal_of)
