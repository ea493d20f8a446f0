"""Settings of one upstream, read as `{PREFIX}UPSTREAMS__<NAME>__<FIELD>` (template-owned)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

RESERVED_HEADERS = frozenset(
    {"authorization", "x-api-key", "cookie", "host", "content-type", "content-length", "accept", "origin"}
)
"""Headers that carry this server's own request: never an upstream credential."""


class UpstreamSettings(BaseModel):
    """How this server reaches one upstream HTTP API: its pool, timeouts, retries and breaker."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    base_url: str = Field(pattern=r"^https?://\S+$")
    """Where the upstream lives; paths in calls are relative to it."""

    token: SecretStr | None = None
    """The server's own credential for the upstream, sent as `Authorization: Bearer`; never logged."""

    caller_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,64}$")
    """Call the upstream with the caller's own credential instead of `token`: the client sends it
    in this request header (for example `X-Billing-Token`) and it goes upstream as
    `Authorization: Bearer`. For an upstream each caller owns an account of; never logged."""

    connect_timeout_seconds: float = Field(default=2.0, gt=0.0, le=60.0)
    """Longest wait to open a connection."""

    read_timeout_seconds: float = Field(default=10.0, gt=0.0, le=600.0)
    """Longest wait for response bytes (also bounded by the tool's own deadline)."""

    max_connections: int = Field(default=20, ge=1, le=1000)
    """Connections open at once to this upstream (the pool's size)."""

    max_keepalive_connections: int = Field(default=10, ge=0, le=1000)
    """Idle connections kept for reuse."""

    retry_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts per idempotent call, the first included (1 turns retries off)."""

    retry_initial_seconds: float = Field(default=0.1, ge=0.0, le=60.0)
    """First backoff; each later one doubles, plus up to as much again in jitter."""

    retry_max_seconds: float = Field(default=2.0, ge=0.0, le=300.0)
    """Longest single backoff (a `Retry-After` from the upstream may ask for more, up to the deadline)."""

    breaker_failures: int = Field(default=5, ge=1, le=1000)
    """Consecutive failed calls that open the circuit: later calls fail fast without reaching the upstream."""

    breaker_reset_seconds: float = Field(default=30.0, gt=0.0, le=3600.0)
    """How long the circuit stays open before one probe call may try the upstream again."""

    @field_validator("caller_header")
    @classmethod
    def _not_this_servers_own_header(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower() in RESERVED_HEADERS or value.lower().startswith("mcp-"):
            raise ValueError(
                f"caller_header {value!r} is a header of the MCP request itself; forwarding the caller's "
                "MCP credential is token passthrough, which the MCP spec forbids. Name a header of its own "
                "for the upstream credential, for example X-Billing-Token"
            )
        return value.lower()

    @model_validator(mode="after")
    def _one_credential(self) -> UpstreamSettings:
        if self.caller_header is not None and self.token is not None:
            raise ValueError("set token (the server's credential) or caller_header (each caller's own), not both")
        return self
