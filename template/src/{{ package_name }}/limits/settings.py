"""Traffic settings: rate limits, concurrency caps and deadlines."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from ..project import RATE_LIMIT_BACKEND


class ToolLimit(BaseModel):
    """Per-tool overrides of what the tool itself declares."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    rate_per_second: float | None = Field(default=None, gt=0)
    """Sustained calls per second per caller for this tool."""

    burst: int | None = Field(default=None, ge=1)
    """Calls a caller may make at once before the rate applies."""

    timeout_seconds: float | None = Field(default=None, gt=0, le=3600)
    """Longest a call may run before it is cancelled."""


class LimitsSettings(BaseModel):
    """Token buckets per caller and overall, concurrency caps and tool deadlines."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    per_principal_rate: float = Field(default=20.0, gt=0)
    """Requests per second one caller may sustain on the MCP endpoint (HTTP 429 beyond)."""

    per_principal_burst: int = Field(default=40, ge=1)
    """Requests one caller may send at once before the rate applies."""

    global_rate: float = Field(default=1000.0, gt=0)
    """Requests per second the whole server accepts (the backstop when many callers are busy)."""

    global_burst: int = Field(default=2000, ge=1)
    """Requests the whole server accepts at once before the global rate applies."""

    max_concurrent_per_principal: int = Field(default=8, ge=1)
    """Requests one caller may have in flight (HTTP 429 beyond, never an unbounded queue)."""

    max_concurrent_total: int = Field(default=128, ge=1)
    """Requests the server handles at once (HTTP 503 beyond)."""

    max_sessions_per_principal: int = Field(default=16, ge=1, le=10_000)
    """Legacy sessions one caller may hold open at once when `HTTP__STATELESS_LEGACY=false`
    (HTTP 429 beyond), so no caller can take every session the server has."""

    tool_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    """Default deadline of a tool call; the call is cancelled and the caller told so."""

    tools: dict[str, ToolLimit] = Field(default_factory=dict)
    """Per-tool overrides by tool name, e.g. {"delete_note": {"rate_per_second": 0.2, "burst": 2}}."""

    backend: Literal["memory", "redis"] = RATE_LIMIT_BACKEND
    """Where buckets live: `redis` shares one limit across replicas (needs the `redis` extra);
    `memory` is per process."""

    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    """Redis for the shared buckets (credentials allowed; they are masked in check-config and logs)."""

    redis_key_prefix: str = Field(default="mcp:rl:", min_length=1, max_length=64)
    """Prefix of every bucket key, so several servers can share one Redis."""

    on_backend_error: Literal["allow", "deny"] = "allow"
    """When Redis cannot be reached: let requests through (allow) or refuse them with 503 (deny)."""

    backend_timeout_seconds: float = Field(default=0.1, gt=0, le=5)
    """Longest a request (or the readiness ping) waits for Redis; past it Redis counts as unreachable
    and `on_backend_error` decides. A healthy Redis answers in about a millisecond."""

    redis_max_connections: int = Field(default=64, ge=1, le=10_000)
    """Connections to Redis per process. A request holds one for one script call (about a
    millisecond), so 64 serve thousands of requests per second; a burst beyond them waits for a free
    one within `backend_timeout_seconds` instead of opening connections without bound."""

    backend_retry_seconds: float = Field(default=1.0, gt=0, le=300)
    """Once Redis has failed, requests stop waiting on it (allowed or refused per `on_backend_error`
    at once) and one request per this interval tries it again; an answer restores the shared limit."""

    @model_validator(mode="after")
    def _backend_waits_fit_the_budgets(self) -> Self:
        timeout, retry = self.backend_timeout_seconds, self.backend_retry_seconds
        if timeout * 10 > self.tool_timeout_seconds:
            raise ValueError(
                f"LIMITS__BACKEND_TIMEOUT_SECONDS ({timeout}) must be at most a tenth of "
                f"LIMITS__TOOL_TIMEOUT_SECONDS ({self.tool_timeout_seconds}): every rate-limit check "
                "could spend it before the call starts; lower it (0.1 suits a Redis on the same network)"
            )
        if retry < timeout:
            raise ValueError(
                f"LIMITS__BACKEND_RETRY_SECONDS ({retry}) must be at least LIMITS__BACKEND_TIMEOUT_SECONDS "
                f"({timeout}), so one probe of an unreachable Redis ends before the next starts; raise it"
            )
        return self
