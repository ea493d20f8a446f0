"""Static API keys: stored hashed, compared in constant time, each with its own id and scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Sequence

from mcp.server.auth.provider import AccessToken

from .sealed import sealed_token
from .settings import ApiKey

KEY_PREFIX = "mcpk_"
"""Marks our keys, so secret scanners can find leaked ones and the router skips JWT parsing."""

API_KEY_ISSUER = "api-key"
"""The `iss` recorded for key principals, keeping them apart from OAuth subjects."""


def generate_key() -> str:
    """A new random key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The value to store in configuration for `key`."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyVerifier:
    """Maps a presented key to the principal of the configured key it hashes to."""

    def __init__(self, keys: Sequence[ApiKey], *, clock: Callable[[], float] = time.time) -> None:
        # Each key's token is built once: every request with that key shares it (and the
        # principal and user objects cached against it downstream).
        self._keys = [(bytes.fromhex(key.sha256), key, _access_token(key)) for key in keys]
        self._clock = clock

    def claims(self, token: str) -> bool:
        """Whether `token` looks like one of our keys."""
        return token.startswith(KEY_PREFIX)

    async def verify_token(self, token: str) -> AccessToken | None:
        """The key's principal, or None for an unknown or expired key."""
        digest = hashlib.sha256(token.encode()).digest()
        match: AccessToken | None = None
        for stored, _key, token_of_key in self._keys:  # no early exit: every key is compared
            if hmac.compare_digest(digest, stored):
                match = token_of_key
        if match is None:
            return None
        if match.expires_at is not None and match.expires_at <= self._clock():
            return None
        return match


def _access_token(key: ApiKey) -> AccessToken:
    return sealed_token(
        client_id=key.id,
        scopes=key.scopes,
        expires_at=int(key.expires_at.timestamp()) if key.expires_at else None,
        subject=key.id,
        claims={"iss": API_KEY_ISSUER},
    )
