"""Verified credentials as read-only objects.

A verifier hands out one token object per API key (and per OAuth token while it is cached),
and the edge builds the SDK's user and credentials objects once per token: every request with
that credential shares them. Sealed, a tool or library that tries to change a shared scope
list, claim or attribute gets a TypeError instead of silently changing what every later
request with the credential is allowed to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from pydantic import ConfigDict
from starlette.authentication import AuthCredentials


def _read_only(*_args: object, **_kwargs: object) -> NoReturn:
    raise TypeError("a verified credential is shared by every request that presents it: copy it to change it")


class SealedList(list[str]):
    """A list of scopes that refuses every change."""

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only


class SealedDict(dict[str, Any]):
    """A dict of claims that refuses every change."""

    __setitem__ = __delitem__ = __ior__ = _read_only
    pop = popitem = clear = update = setdefault = _read_only


class SealedAccessToken(AccessToken):
    """The SDK's token model, frozen, with sealed scopes and claims."""

    model_config = ConfigDict(frozen=True)


def sealed_token(
    *,
    client_id: str,
    scopes: Iterable[str],
    expires_at: int | None,
    subject: str | None,
    claims: Mapping[str, Any],
    resource: str | None = None,
) -> AccessToken:
    """A frozen token carrying no secret (the raw credential never travels past its verifier)."""
    return SealedAccessToken.model_construct(
        token="[redacted]",  # noqa: S106 - a marker, not a password
        client_id=client_id,
        scopes=SealedList(scopes),
        expires_at=expires_at,
        resource=resource,
        subject=subject,
        claims=SealedDict(claims),
    )


class _Sealed:
    """Attributes are fixed once `__init__` has run."""

    _sealed = False

    def __setattr__(self, name: str, value: object) -> None:
        if self._sealed:
            _read_only()
        super().__setattr__(name, value)


class SealedUser(_Sealed, AuthenticatedUser):
    """The SDK's authenticated user, read-only."""

    def __init__(self, token: AccessToken) -> None:
        super().__init__(token)
        self.scopes = SealedList(token.scopes)
        self._sealed = True


class SealedAuthCredentials(_Sealed, AuthCredentials):
    """Starlette's credentials, read-only."""

    def __init__(self, scopes: Iterable[str]) -> None:
        super().__init__()
        self.scopes = SealedList(scopes)
        self._sealed = True


def sealed_credentials(token: AccessToken) -> tuple[AuthenticatedUser, AuthCredentials]:
    """What the SDK reads of a verified request (`scope["user"]`, `scope["auth"]`), read-only."""
    return SealedUser(token), SealedAuthCredentials(token.scopes)
