"""Typed configuration: one root, one nested model per room, read from the environment and `.env`.

Only `cli.py` (and the worker factory in `app.py`) instantiate `Settings`; every room receives
its own sub-model. Environment variables use the project prefix and `__` between levels, e.g.
`<PREFIX>HTTP__PORT=9000` (the prefix is `project.ENV_PREFIX`). Lists and nested objects are JSON.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .auth.settings import AuthSettings
from .caching.settings import CacheSettings
from .exposure.settings import ExposureSettings
from .limits.settings import LimitsSettings
from .project import ENV_PREFIX
from .services.settings import ServiceSettings
from .upstreams.settings import UpstreamSettings

LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOOPBACK_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HttpSettings(BaseModel):
    """Streamable HTTP listener and its transport hygiene."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    host: str = "127.0.0.1"
    """Bind address. Use 0.0.0.0 only behind auth and an explicit host allowlist."""

    port: int = Field(default=8000, ge=1, le=65535)
    """TCP port."""

    workers: int = Field(default=1, ge=1, le=64)
    """uvicorn worker processes; scale with cores, not beyond them."""

    allowed_hosts: list[str] = Field(default_factory=lambda: list(LOOPBACK_HOSTS))
    """`Host` values the MCP endpoint accepts (DNS-rebinding guard); others get 421.
    List both "name" and "name:*" (any port) for a public hostname."""

    allowed_origins: list[str] = Field(default_factory=lambda: list(LOOPBACK_ORIGINS))
    """`Origin` values accepted from browsers; a request with another Origin gets 403, none is fine."""

    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or CIDRs of reverse proxies whose X-Forwarded-For/-Host headers are believed."""

    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    """Requests whose headers add up to more get 431."""

    stateless_legacy: bool = True
    """Serve 2025-11-25-and-older clients without sessions so any replica can answer (no affinity needed)."""

    json_response: bool = False
    """Answer every request with plain JSON, even a tool that streams (its progress is dropped, and a
    client closing the request no longer cancels it). Off, only a `tools/call` of a tool that takes
    a `Context` gets SSE; every other request is one JSON body already."""

    subscriptions: bool = True
    """Serve change notifications: `subscriptions/listen` streams (2026-07-28) and, with legacy
    sessions (`HTTP__STATELESS_LEGACY=false`), `resources/subscribe`. Streams end when a drain starts."""

    subscriptions_redis_url: SecretStr | None = None
    """Redis for change notifications shared by replicas (pub/sub): a change published on one
    replica reaches listeners on all of them. Unset: in this process only. Needs the `redis` extra."""

    replay_events: int = Field(default=100, ge=0, le=10_000)
    """Messages each legacy session keeps for `Last-Event-ID` resumption (with
    `HTTP__STATELESS_LEGACY=false`); 0 turns resumability and its priming events off."""

    sse_retry_ms: int = Field(default=1000, ge=100, le=60_000)
    """The SSE `retry` field sent with the priming event: how long a client waits before reconnecting."""

    max_request_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    """Larger request bodies get 413 before they are parsed."""

    keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    """Idle keep-alive; keep it above your load balancer's idle timeout (often 60 s)."""

    graceful_shutdown_seconds: float = Field(default=20.0, ge=2.0, le=600.0)
    """How long in-flight requests may run after SIGTERM before they are cancelled. Keep the Helm
    chart's `shutdown.gracefulSeconds` equal to it (the chart sets this from that value)."""

    limit_concurrency: int = Field(default=1000, ge=1)
    """uvicorn answers 503 past this many open connections plus tasks (protects memory)."""

    unsafe_allow_unauthenticated_remote: bool = False
    """With `AUTH__MODE=none`, serve on a non-loopback address anyway (a gateway in front
    authenticates callers); without it such a bind is refused in production."""

    @model_validator(mode="after")
    def _lists_are_usable(self) -> Self:
        if not self.allowed_hosts:
            raise ValueError("allowed_hosts is empty, which would reject every request; list at least one host")
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxies entry {entry!r} is not an IP address or CIDR") from None
        return self


class ObservabilitySettings(BaseModel):
    """Logs, the audit trail, metrics and trace export."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    """Minimum level written."""

    client_log_level: Literal[
        "off", "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
    ] = "info"
    """Log notifications to a 2025-11-25-or-older client that has not sent `logging/setLevel`:
    records of its own requests at this MCP level and above (`off`: none until it asks)."""

    log_format: Literal["auto", "json", "pretty"] = "auto"
    """`auto` writes JSON in production and readable lines in development."""

    audit_sink: str = Field(default="stdout", min_length=1)
    """Where audit records go: `stdout`, `stderr`, `off`, or a file path (appended). On stdio,
    `stdout` becomes `stderr`."""

    metrics_port: int = Field(default=9464, ge=1, le=65535)
    """Port of the separate /metrics listener (one per pod, whatever the worker count); the main
    port answers 404 for /metrics, so the public ingress never serves it."""

    metrics_host: str | None = None
    """Address the metrics listener binds; unset means the HTTP host."""

    metrics_on_main_port: bool = False
    """Serve /metrics on the main port as earlier releases did, and start no separate listener."""

    otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """OTLP/HTTP traces URL (e.g. http://otel-collector:4318/v1/traces); unset means no export."""


class IconSettings(BaseModel):
    """One icon clients may show for this server (MCP `Icon`)."""

    model_config = ConfigDict(extra="forbid")

    src: str = Field(pattern=r"^(https://\S+|data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/]+=*)$", max_length=65536)
    """An https URL or a base64 `data:image/...` URI (clients are told to refuse other schemes)."""

    mime_type: str | None = Field(default=None, pattern=r"^image/[a-z0-9.+-]+$")
    """e.g. `image/png`; optional when the URL says it."""

    sizes: list[Annotated[str, Field(pattern=r"^(\d{1,5}x\d{1,5}|any)$")]] = Field(default_factory=list, max_length=16)
    """e.g. `["48x48", "96x96"]`, or `["any"]` for scalable images."""

    theme: Literal["light", "dark"] | None = None
    """The background the icon is drawn for, when it matters."""


class ProtocolSettings(BaseModel):
    """What the server tells clients about itself, and how long its lists' pages are."""

    model_config = ConfigDict(extra="forbid")

    instructions: str | None = Field(default=None, min_length=1, max_length=4000)
    """Text clients may give the model about using this server as a whole (MCP `instructions`)."""

    icons: list[IconSettings] = Field(default_factory=list, max_length=8)
    """Icons of the server (`serverInfo.icons`), as a JSON list of {src, mime_type, sizes, theme}."""

    page_size: int = Field(default=100, ge=1, le=1000)
    """Items per page of tools/list, resources/list, resources/templates/list and prompts/list."""


CANARY_PHRASE = "The canary says: seven violet giraffes audit the moon's tax returns every other Thursday."
"""The default canary phrase: absurd on purpose, so no model can answer it from memory."""


class CanarySettings(BaseModel):
    """The canary resource and tool that `smoke` (and you) use to prove answers come from this server."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    enabled: bool = True
    """Register the canary (the `canary` tool and the `canary://phrase` resource)."""

    phrase: str = Field(default=CANARY_PHRASE, min_length=8, max_length=200)
    """What the canary answers: deliberately absurd, the same on every replica, never a secret."""

    scope: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """When set, only callers granted this scope see and may use the canary tool and resource (HTTP)."""


class OutputSettings(BaseModel):
    """What tool results may cost the model that reads them (see `toolkit/output.py`)."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    max_result_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    """Largest tool result (its JSON as sent) returned uncut; a larger one is cut, ending in a
    truncation marker that says to ask for less (about 4 bytes per token: 64 KiB is ~16k tokens)."""


class SharedStateSettings(BaseModel):
    """State that replicas must share to behave as one: idempotency keys, the brute-force lockout and
    legacy sessions' replayable messages."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    backend: Literal["memory", "redis"] = "memory"
    """`redis`: a retried keyed call runs once, a lockout holds and a dropped legacy stream resumes
    on every replica (needs the `redis` extra); `memory`: per process, right for one replica."""

    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    """Redis for the shared state (credentials allowed; masked in check-config and logs)."""

    redis_key_prefix: str = Field(default="mcp:state:", min_length=1, max_length=64)
    """Prefix of every shared-state key, so several servers can share one Redis."""

    timeout_seconds: float = Field(default=0.25, gt=0, le=5)
    """Longest one shared-state call waits for Redis. Past it a keyed call is refused with "retry"
    (it never runs unguarded) and a failed login is counted on this replica only."""

    request_state_secret: SecretStr | None = Field(default=None, min_length=32)
    """Seals the state a 2026-07-28 multi-round-trip call (elicitation, sampling) hands the client,
    so a continuation may land on any replica: the same value on every replica, at least 32 random
    characters (`openssl rand -hex 32`). Required in production over HTTP; unset in development, a
    key generated at start-up serves this process only (`dev-setup` writes one to `.env`)."""


class Settings(BaseSettings):
    """Everything the server reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        validate_default=True,
    )

    environment: Literal["development", "production"] = "production"
    """`production` refuses unsafe settings; `development` relaxes them and logs readable lines."""

    http: HttpSettings = Field(default_factory=HttpSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    exposure: ExposureSettings = Field(default_factory=ExposureSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    services: ServiceSettings = Field(default_factory=ServiceSettings)
    canary: CanarySettings = Field(default_factory=CanarySettings)
    output: OutputSettings = Field(default_factory=OutputSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    protocol: ProtocolSettings = Field(default_factory=ProtocolSettings)
    state: SharedStateSettings = Field(default_factory=SharedStateSettings)
    upstreams: dict[str, UpstreamSettings] = Field(default_factory=dict)
    """Upstream HTTP APIs by name: `UPSTREAMS__<NAME>__BASE_URL` and the knobs in `upstreams/settings.py`."""

    @property
    def json_logs(self) -> bool:
        """Whether log records are written as JSON lines."""
        fmt = self.observability.log_format
        return fmt == "json" or (fmt == "auto" and self.environment == "production")


def metrics_address(settings: Settings) -> tuple[str, int] | None:
    """Where the separate metrics listener binds; None when /metrics stays on the main port."""
    metrics = settings.observability
    if metrics.metrics_on_main_port:
        return None
    return metrics.metrics_host or settings.http.host, metrics.metrics_port


def http_problems(settings: Settings) -> list[str]:
    """Why serving HTTP with these settings would be unsafe or could not work (empty when fine)."""
    problems: list[str] = []
    http, auth = settings.http, settings.auth
    production = settings.environment == "production"
    metrics = settings.observability
    if not metrics.metrics_on_main_port and metrics.metrics_port == http.port:
        problems.append(
            f"{ENV_PREFIX}OBSERVABILITY__METRICS_PORT={metrics.metrics_port} is also the HTTP port; choose another "
            f"port, or set {ENV_PREFIX}OBSERVABILITY__METRICS_ON_MAIN_PORT=true to serve /metrics on the main one"
        )
    if settings.cache.backend == "redis" and importlib.util.find_spec("redis") is None:
        problems.append(
            f"{ENV_PREFIX}CACHE__BACKEND=redis needs the redis client: install the `redis` extra "
            "(uv sync --extra redis), or set CACHE__BACKEND=memory"
        )
    if production and any(h.startswith("*") for h in http.allowed_hosts):
        problems.append(f"{ENV_PREFIX}HTTP__ALLOWED_HOSTS contains a wildcard; list the real hostnames")
    if production and any(o.startswith("*") for o in http.allowed_origins):
        problems.append(f"{ENV_PREFIX}HTTP__ALLOWED_ORIGINS contains a wildcard; list the real origins")
    if settings.state.backend == "redis" and importlib.util.find_spec("redis") is None:
        problems.append(
            f"{ENV_PREFIX}STATE__BACKEND=redis needs the redis client: install the `redis` extra "
            "(uv sync --extra redis), or set STATE__BACKEND=memory"
        )
    if production and settings.state.request_state_secret is None:
        problems.append(
            f"{ENV_PREFIX}STATE__REQUEST_STATE_SECRET is not set: give every replica the same secret of at least "
            "32 random characters (openssl rand -hex 32), so a multi-round-trip call can continue on any replica"
        )
    if http.subscriptions_redis_url is not None and importlib.util.find_spec("redis") is None:
        problems.append(
            f"{ENV_PREFIX}HTTP__SUBSCRIPTIONS_REDIS_URL needs the redis client: install the `redis` extra "
            "(uv sync --extra redis), or unset it to keep change notifications in process"
        )
    if auth.mode == "none":
        if production and not is_loopback(http.host) and not http.unsafe_allow_unauthenticated_remote:
            problems.append(
                f"{ENV_PREFIX}HTTP__HOST={http.host} exposes a server without authentication "
                f"({ENV_PREFIX}AUTH__MODE=none); bind 127.0.0.1, set {ENV_PREFIX}AUTH__MODE to api_key or oauth, "
                f"or set {ENV_PREFIX}HTTP__UNSAFE_ALLOW_UNAUTHENTICATED_REMOTE=true if a gateway authenticates callers"
            )
        return problems
    if settings.limits.backend == "redis" and importlib.util.find_spec("redis") is None:
        problems.append(
            f"{ENV_PREFIX}LIMITS__BACKEND=redis needs the redis client: install the `redis` extra "
            "(uv sync --extra redis), or set LIMITS__BACKEND=memory"
        )
    missing = [name for name, value in oauth_requirements(settings).items() if value is None]
    oauth_optional = auth.mode == "api_key+oauth"  # next to API keys OAuth may be off, but not half-configured
    if auth.uses_oauth and missing and not (oauth_optional and len(missing) == 3):
        problems.append(
            f"{ENV_PREFIX}AUTH__MODE={auth.mode} needs {', '.join(missing)} "
            "(the audience tokens must carry is the resource URL)"
        )
    if production and auth.uses_api_keys and not auth.api_keys and auth.oauth.issuer is None:
        problems.append(
            f"no credentials are accepted: add {ENV_PREFIX}AUTH__API_KEYS (see the gen-key command)"
            + (f" or configure {ENV_PREFIX}AUTH__OAUTH__ISSUER" if auth.uses_oauth else "")
        )
    return problems


def oauth_requirements(settings: Settings) -> dict[str, str | None]:
    """The settings OAuth verification cannot work without, by environment variable."""
    oauth = settings.auth.oauth
    return {
        f"{ENV_PREFIX}AUTH__OAUTH__ISSUER": oauth.issuer,
        f"{ENV_PREFIX}AUTH__OAUTH__JWKS_URL": oauth.jwks_url,
        f"{ENV_PREFIX}AUTH__RESOURCE_URL": settings.auth.resource_url,
    }
