"""OAuth 2.1 resource server: verify JWT access tokens against the issuer's published keys.

Fails closed: without usable keys no token is accepted. When the keys cannot be had (the issuer
is unreachable, or its keys are too stale to trust) a token is neither accepted nor called
invalid: the check is unavailable, and the caller is told to retry. Only asymmetric algorithms from the
allow-list are accepted, and a token must name this server's resource URL in `aud` (RFC 8707),
so a token minted for another service cannot be replayed here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx2
import jwt
from loguru import logger
from mcp.server.auth.provider import AccessToken

from .sealed import sealed_token
from .settings import OAuthSettings
from .verifier import CredentialCheckUnavailableError

JwksFetcher = Callable[[str], Awaitable[dict[str, Any]]]
MAX_CACHED_TOKENS = 4096
"""Verified tokens remembered at once; past it the oldest is forgotten (it is verified again)."""


async def fetch_jwks(url: str) -> dict[str, Any]:
    """GET the key set (redirects are not followed), or read it from a `file://` URL."""
    if url.startswith("file://"):
        body = json.loads(await anyio.Path(url.removeprefix("file://")).read_text())
    else:
        async with httpx2.AsyncClient(timeout=5.0, follow_redirects=False) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
    if not isinstance(body, dict):
        raise TypeError("JWKS document is not a JSON object")
    return body


class JwksCache:
    """The issuer's signing keys by `kid`, refreshed on expiry or an unknown `kid` (rate-limited)."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        min_refresh_seconds: float,
        fetch: JwksFetcher = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = anyio.Lock()
        self.last_error: str | None = "keys not fetched yet"

    async def get(self, kid: str | None) -> jwt.PyJWK | None:
        """The key for `kid` (None when the issuer does not publish it), fetching the set when
        stale or when `kid` is new.

        Raises:
            CredentialCheckUnavailableError: the set could not be fetched, so whether `kid` exists
                is unknown, or the keys held are too old to trust.
        """
        if self._age() > self._cache_seconds or kid not in self._keys:
            await self.refresh()
        if self._age() > 2 * self._cache_seconds:
            # The issuer has been unreachable for too long: stop trusting old keys.
            raise CredentialCheckUnavailableError(self.last_error or "signing keys are stale")
        key = self._keys.get(kid)
        if key is None and self.last_error is not None:
            raise CredentialCheckUnavailableError(self.last_error)  # maybe a new key we could not fetch
        return key

    def _age(self) -> float:
        return float("inf") if self._fetched_at is None else self._clock() - self._fetched_at

    async def refresh(self) -> None:
        """Refetch the key set unless one was attempted less than `min_refresh_seconds` ago."""
        async with self._lock:
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self._min_refresh_seconds:
                return
            self._attempted_at = now
            try:
                document = await self._fetch(self._url)
                keys = jwt.PyJWKSet.from_dict(document).keys
            except Exception as exc:  # noqa: BLE001 - any failure means "no fresh keys": fail closed
                self.last_error = f"cannot fetch signing keys: {type(exc).__name__}"
                logger.warning("JWKS refresh from {} failed: {}", self._url, type(exc).__name__)
                return
            self._keys = {key.key_id: key for key in keys if key.public_key_use in (None, "sig")}
            self._fetched_at = now
            self.last_error = None

    async def readiness(self) -> str | None:
        """None once keys are available, else why not."""
        if self._age() > self._cache_seconds:
            await self.refresh()
        if self._age() > 2 * self._cache_seconds:
            return self.last_error or "signing keys are stale"
        return None if self._keys else "issuer published no signing keys"


class JwtVerifier:
    """Turns a valid access token into the SDK's `AccessToken`; anything else into None."""

    def __init__(self, settings: OAuthSettings, *, resource_url: str, issuer: str, keys: JwksCache) -> None:
        self._algorithms = set(settings.algorithms)
        self._token_types = {t.lower() for t in settings.accepted_token_types}
        self._leeway = settings.leeway_seconds
        self._resource_url = resource_url
        self._issuer = issuer
        self._keys = keys
        self._cache_seconds = settings.verified_cache_seconds
        # sha256 of the token -> (result, monotonic deadline): raw tokens are not kept in memory.
        self._verified: dict[bytes, tuple[AccessToken, float]] = {}

    def claims(self, token: str) -> bool:
        """Whether `token` has the shape of a JWS (three dot-separated parts)."""
        return token.count(".") == 2

    async def verify_token(self, token: str) -> AccessToken | None:
        """Verify signature, issuer, audience and lifetime (or recall a recent verification).

        Raises:
            CredentialCheckUnavailableError: the issuer's keys are unavailable (not the token's fault).
        """
        if not self._cache_seconds:
            return await self._verify(token)
        digest = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        cached = self._verified.get(digest)
        if cached is not None:
            if now < cached[1]:
                return cached[0]
            del self._verified[digest]
        access = await self._verify(token)
        if access is not None and access.expires_at is not None:
            remaining = access.expires_at - time.time()  # without the leeway: never past exp
            if remaining > 0:
                if len(self._verified) >= MAX_CACHED_TOKENS:
                    self._verified.pop(next(iter(self._verified)))  # the oldest entry
                self._verified[digest] = (access, now + min(self._cache_seconds, remaining))
        return access

    async def _verify(self, token: str) -> AccessToken | None:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm not in self._algorithms:
                return _rejected(f"algorithm {algorithm!r} is not accepted")
            if str(header.get("typ", "JWT")).lower() not in self._token_types:
                return _rejected(f"token type {header.get('typ', 'JWT')!r} is not accepted (see accepted_token_types)")
            key = await self._keys.get(header.get("kid"))  # raises when the keys are unavailable
            if key is None:
                return _rejected("no signing key with this kid")
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self._resource_url,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            return _rejected(str(exc) or type(exc).__name__)
        return sealed_token(
            client_id=str(claims.get("client_id") or claims.get("azp") or claims["sub"]),
            scopes=_scopes(claims),
            expires_at=int(claims["exp"]),
            resource=self._resource_url,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"]},
        )


def _rejected(reason: str) -> AccessToken | None:
    # DEBUG: under attack every refusal would log; operators turn it on to diagnose a setup.
    logger.debug("OAuth token refused: {}", reason)
    return None


def _scopes(claims: dict[str, Any]) -> list[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [str(s) for s in scp]
    if isinstance(scp, str):
        return scp.split()
    return []
