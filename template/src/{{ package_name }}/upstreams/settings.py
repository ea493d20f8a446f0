"""Settings of one upstream, read as `{PREFIX}UPSTREAMS__<NAME>__<FIELD>` (template-owned)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class UpstreamSettings(BaseModel):
    """How this server reaches one upstream HTTP API: its pool, timeouts, retries and breaker."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    base_url: str = Field(pattern=r"^https?://\S+$")
    """Where the upstream lives; paths in calls are relative to it."""

    token: SecretStr | None = None
    """The server's own credential for the upstream, sent as `Authorization: Bearer`; never logged."""

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
