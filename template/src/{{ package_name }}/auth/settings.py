"""Authentication settings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..project import AUTH_MODE

AuthMode = Literal["api_key", "oauth", "api_key+oauth", "none"]

URL_PATTERN = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
"""An absolute http(s) URL without query or fragment; kept as typed, since tokens compare it byte for byte."""


class ApiKey(BaseModel):
    """One accepted API key, stored as the SHA-256 of the key (never the key itself)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    """Names the key in logs, metrics and the audit trail (the principal's client id)."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Lowercase hex SHA-256 of the key; `gen-key` prints it."""

    scopes: list[str] = Field(default_factory=list)
    """Scopes granted to callers using this key."""

    expires_at: datetime | None = None
    """After this instant (ISO 8601 with a timezone) the key is refused."""

    @model_validator(mode="after")
    def _expiry_has_a_timezone(self) -> Self:
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError(f"expires_at of key {self.id!r} needs a timezone, e.g. 2027-01-31T00:00:00Z")
        return self


class OAuthSettings(BaseModel):
    """Verification of JWT access tokens from your authorization server."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    issuer: str | None = Field(default=None, pattern=URL_PATTERN)
    """Exact `iss` of accepted tokens, e.g. https://auth.example.com/realms/main (compared as a string)."""

    jwks_url: str | None = Field(default=None, pattern=r"^(https?://[^\s/?#]+|file://)/?[^\s?#]*$")
    """Where the issuer publishes its signing keys (its metadata's `jwks_uri`); `file://` reads a
    mounted key set instead."""

    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"])
    """Accepted signature algorithms; `none` and HMAC algorithms are always refused."""

    leeway_seconds: int = Field(default=30, ge=0, le=300)
    """Clock skew tolerated on `exp`, `nbf` and `iat`."""

    jwks_cache_seconds: int = Field(default=600, ge=10)
    """How long fetched keys are trusted before a refresh."""

    jwks_min_refresh_seconds: int = Field(default=30, ge=1)
    """Unknown `kid`s trigger at most one refetch per this interval."""

    verified_cache_seconds: float = Field(default=30, ge=0, le=300)
    """How long a verified token is remembered, saving a signature check per request (0: verify
    every time). Never past the token's `exp`; a key removed from the JWKS stops being honoured
    within this time."""

    accepted_token_types: list[str] = Field(default_factory=lambda: ["at+jwt", "application/at+jwt"])
    """Accepted JWT `typ` headers. RFC 9068 access tokens say `at+jwt`; add "JWT" for issuers that
    do not, accepting that ID tokens then differ from access tokens only by audience."""

    @model_validator(mode="after")
    def _algorithms_are_asymmetric(self) -> Self:
        bad = [a for a in self.algorithms if a.lower() == "none" or a.upper().startswith("HS")]
        if bad:
            raise ValueError(f"algorithms {bad} are not allowed; use asymmetric ones such as RS256, ES256, EdDSA")
        if not self.algorithms:
            raise ValueError("algorithms is empty; list at least one, e.g. RS256")
        return self


class AuthSettings(BaseModel):
    """How HTTP callers prove who they are (stdio trusts its local user)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    mode: AuthMode = AUTH_MODE
    """`api_key` (hashed keys below), `oauth` (JWTs from your issuer), `api_key+oauth` (either), or
    `none`: anyone who reaches the port may call every tool, so only on loopback or behind a
    gateway that authenticates (see `HTTP__UNSAFE_ALLOW_UNAUTHENTICATED_REMOTE`)."""

    resource_url: str | None = Field(default=None, pattern=URL_PATTERN)
    """Public URL of the MCP endpoint, e.g. https://mcp.example.com/mcp. OAuth tokens must be issued
    for it (their `aud`), and protected-resource metadata names it."""

    max_failed_attempts: int = Field(default=10, ge=1, le=10_000)
    """Failed authentications one client address may make per window before it is refused (429)."""

    failed_attempts_window_seconds: float = Field(default=60.0, ge=1.0, le=86_400.0)
    """The window for `max_failed_attempts`."""

    api_keys: list[ApiKey] = Field(default_factory=list)
    """Accepted keys as a JSON list; create entries with the `gen-key` command."""

    oauth: OAuthSettings = Field(default_factory=OAuthSettings)

    @property
    def uses_api_keys(self) -> bool:
        """Whether API keys are accepted."""
        return self.mode in ("api_key", "api_key+oauth")

    @property
    def uses_oauth(self) -> bool:
        """Whether OAuth access tokens are accepted."""
        return self.mode in ("oauth", "api_key+oauth")

    @model_validator(mode="after")
    def _nothing_configured_is_ignored(self) -> Self:
        if self.api_keys and not self.uses_api_keys:
            raise ValueError(
                f"api_keys are set but mode={self.mode} does not accept API keys; "
                "set mode to api_key or api_key+oauth, or remove the keys"
            )
        if self.oauth.issuer is not None and not self.uses_oauth:
            raise ValueError(
                f"oauth.issuer is set but mode={self.mode} does not accept OAuth tokens; "
                "set mode to oauth or api_key+oauth, or unset the issuer"
            )
        return self

    @model_validator(mode="after")
    def _key_ids_are_unique(self) -> Self:
        ids = [key.id for key in self.api_keys]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"api_keys has duplicate ids {duplicates}; give every key its own id")
        return self
