"""Composition root: the one place that knows every room and wires them together.

Read it top to bottom. `build_mcp_server` assembles the MCP side: the tools, then the tool-call
middleware in the order a call meets it. `create_app` assembles the HTTP side: the tools and
their metrics, the shared limit store, the credential checks, and the layers of the MCP
endpoint listed outermost first. Optional parts are switched by settings, never by the template.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial, reduce
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI
from mcp.server import MCPServer
from starlette.types import ASGIApp

from . import __version__
from .auth.middleware import AuthGate
from .auth.scopes import ScopePolicy
from .auth.throttle import FailureThrottle
from .auth.tool_access import tool_access
from .auth.verifier import Verifier
from .exposure.gate import exposure_gate
from .exposure.policy import Exposure, ExposureRules
from .limits.concurrency import ConcurrencyLimiter, InFlight
from .limits.rate_limit import RateLimiter
from .limits.sessions import SessionQuota
from .limits.settings import LimitsSettings, ToolLimit
from .limits.token_bucket import Buckets, MemoryBuckets
from .limits.tool_limits import ToolBudget, tool_limits
from .observability.exposition import metrics_router, serve_metrics
from .observability.metrics import Metrics, multiprocess_dir
from .observability.request_context import RequestRecorder
from .observability.setup import configure_observability
from .observability.tool_observer import observe
from .project import DESCRIPTION, ENV_PREFIX, SERVER_NAME, SERVER_TITLE
from .services import Services, open_services
from .settings import Settings, http_problems, metrics_address
from .toolkit.canary import register_canary
from .toolkit.registry import Registry
from .toolkit.server import ErrorContractServer
from .tools import register_tools
from .transport.fast_path import FastPathApp
from .transport.health import Readiness, ReadinessCheck, health_router
from .transport.heap import settle_heap
from .transport.mcp_http import MCP_PATH, build_mcp_http_app
from .transport.request_guard import ForwardedHeaders, RequestGuard
from .transport.shutdown import Drain, DrainGate
from .upstreams import Upstreams

Register = Callable[[Registry], None]
"""Adds tools, resources and prompts: `tools.register_tools` unless a test adds its own."""

Layer = Callable[[ASGIApp], ASGIApp]
"""An ASGI middleware waiting for the app it wraps."""


def collect_tools(
    settings: Settings, register: Register = register_tools, upstreams: Upstreams | None = None
) -> Registry:
    """The SDK server with everything `register` adds, and what each tool declared about itself."""
    pool = upstreams or Upstreams(settings.upstreams)
    mcp = ErrorContractServer(
        name=SERVER_NAME,
        title=SERVER_TITLE,
        description=DESCRIPTION,
        version=__version__,
        lifespan=lambda _server: user_services(settings, pool),
        # No subscriptions/listen streams: they would hold a graceful shutdown open forever
        # (python-sdk #2150). Tools may still call ctx.notify_*; nobody listens.
        subscriptions=False,
    )
    if settings.observability.otlp_endpoint is None:
        # The SDK opens a (no-op) span per message; without an exporter that is pure overhead.
        # Its docs say to drop it from the list to opt out (matched by name: the module is private).
        mcp.middleware[:] = [m for m in mcp.middleware if type(m).__name__ != "OpenTelemetryMiddleware"]
    registry = Registry(mcp)
    register(registry)
    canary = settings.canary
    if canary.enabled:  # after the user's tools: theirs keep their order, the canary is always last
        register_canary(registry, phrase=canary.phrase, scopes=[canary.scope] if canary.scope else [])
    return registry


def surface_problems(registry: Registry, settings: Settings) -> list[str]:
    """Settings naming tools, resources or prompts that `registry` does not have (empty when fine):
    a typo would silently do nothing, so serving is refused and check-config reports them."""
    unmatched = ExposureRules(settings.exposure).unmatched(
        tools=registry.rules.keys(), resources=registry.resources, prompts=registry.prompts
    )
    return unknown_tool_limits(registry, settings.limits) + unmatched


def unknown_tool_limits(registry: Registry, limits: LimitsSettings) -> list[str]:
    """The problem with `LIMITS__TOOLS` naming tools that do not exist, if it does."""
    unknown = sorted(set(limits.tools) - set(registry.rules))
    if not unknown:
        return []
    return [f"{ENV_PREFIX}LIMITS__TOOLS names unknown tools {unknown}; known: {sorted(registry.rules)}"]


def exposure_of(registry: Registry, settings: Settings) -> Exposure:
    """What the operator's allow and deny lists leave of the registered tools, resources and prompts."""
    rules = ExposureRules(settings.exposure)
    return Exposure.decide(rules, tools=registry.rules, resources=registry.resources, prompts=registry.prompts)


def scope_policy(registry: Registry, settings: Settings) -> ScopePolicy:
    """The scopes each exposed tool needs: a disabled tool needs none anywhere (its callers hear
    "disabled", not "insufficient scope"), and its scopes are not advertised."""
    return ScopePolicy(exposure_of(registry, settings).exposed(registry.scopes), registry.resource_scopes)


def tool_budgets(registry: Registry, limits: LimitsSettings) -> dict[str, ToolBudget]:
    """Each tool's effective deadline and rate: settings override what the tool declared.

    Raises:
        ValueError: settings name a tool that does not exist (a typo would silently do nothing).
    """
    problems = unknown_tool_limits(registry, limits)
    if problems:
        raise ValueError(problems[0])
    budgets = {}
    for name, rules in registry.rules.items():
        override = limits.tools.get(name, ToolLimit())
        budgets[name] = ToolBudget(
            timeout_seconds=override.timeout_seconds or rules.timeout_seconds or limits.tool_timeout_seconds,
            rate_per_second=override.rate_per_second or rules.rate_per_second,
            burst=override.burst or rules.burst,
        )
    return budgets


def attach_tool_middleware(
    registry: Registry, settings: Settings, metrics: Metrics, buckets: Buckets, *, transport: str
) -> MCPServer[Services]:
    """Wrap every MCP message, outermost first: observe everything (refusals included), then the
    operator's exposure lists (before scopes, so a disabled tool is "disabled" to everyone), then
    scopes (HTTP callers only carry them), then per-tool deadlines and rates.

    Raises:
        ValueError: settings name tools, resources or prompts that are not registered.
    """
    problems = surface_problems(registry, settings)
    if problems:
        raise ValueError("; ".join(problems))
    mcp = registry.server
    mcp.middleware.append(observe(metrics, transport, audit=settings.observability.audit_sink != "off"))
    if settings.exposure.allow or settings.exposure.deny:
        mcp.middleware.append(exposure_gate(exposure_of(registry, settings)))
    if transport == "http" and settings.auth.mode != "none":
        mcp.middleware.append(tool_access(scope_policy(registry, settings)))
    default = ToolBudget(timeout_seconds=settings.limits.tool_timeout_seconds)
    mcp.middleware.append(tool_limits(tool_budgets(registry, settings.limits), default, buckets))
    return mcp


def build_mcp_server(settings: Settings, *, register: Register = register_tools) -> MCPServer[Services]:
    """The SDK server with its tools and middleware (stdio and in-process clients use it directly)."""
    upstreams = Upstreams(settings.upstreams)
    registry = collect_tools(settings, register, upstreams)
    metrics = Metrics(registry.rules, version=__version__)
    upstreams.on_change(lambda name, state: metrics.upstream_state(name, state.level))
    return attach_tool_middleware(registry, settings, metrics, MemoryBuckets(), transport="stdio")


def create_app(settings: Settings, *, mcp_path: str = MCP_PATH, register: Register = register_tools) -> FastAPI:
    """Build the HTTP application: health and metadata routes, and the guarded MCP endpoint.

    Exactly `mcp_path` (and `mcp_path/`) reaches the MCP chain, so every layer in it applies to
    every MCP request and to nothing else; all other paths are FastAPI's to route (and 404).
    """
    problems = http_problems(settings)
    if problems:
        raise ValueError("cannot serve HTTP: " + "; ".join(problems))
    http, limits = settings.http, settings.limits
    upstreams = Upstreams(settings.upstreams)
    registry = collect_tools(settings, register, upstreams)
    metrics = Metrics(registry.rules, version=__version__)
    upstreams.on_change(lambda name, state: metrics.upstream_state(name, state.level))
    buckets, buckets_check, close_buckets = rate_limit_store(limits, metrics)
    mcp = attach_tool_middleware(registry, settings, metrics, buckets, transport="http")
    policy = scope_policy(registry, settings)
    authenticate, auth_checks, auth_routes = authentication(settings, policy, metrics)
    drain = Drain(budget_seconds=max(1.0, http.graceful_shutdown_seconds - 1))
    in_flight = InFlight()
    checks = {**auth_checks, **buckets_check, "upstreams": upstreams.readiness}
    # A failing-open Redis is shared by every replica: leaving rotation would turn a missing
    # limit into a full outage, so it shows in the detail only. An open circuit is the same:
    # every replica sees the same upstream, and the breaker already answers fast.
    advisory = ["upstreams", *(["rate_limit_redis"] if limits.on_backend_error == "allow" else [])]
    readiness = Readiness(
        checks, advisory=advisory, stopping=lambda: drain.draining, on_evaluated=metrics.readiness_evaluated
    )
    sessions = mcp_sessions(mcp)

    layers: list[Layer] = [  # outermost first
        *optional(http.trusted_proxies, partial(ForwardedHeaders, trusted_proxies=http.trusted_proxies)),
        RequestRecorder,
        partial(
            RequestGuard,
            allowed_hosts=http.allowed_hosts,
            allowed_origins=http.allowed_origins,
            max_header_bytes=http.max_header_bytes,
        ),
        partial(DrainGate, drain=drain),
        *authenticate,  # none with AUTH__MODE=none
        partial(
            RateLimiter,
            buckets=buckets,
            per_principal=(limits.per_principal_rate, limits.per_principal_burst),
            overall=(limits.global_rate, limits.global_burst),
            on_refusal=lambda scope: metrics.rate_limited.labels(scope).inc(),
        ),
        partial(
            ConcurrencyLimiter,
            counts=in_flight,
            per_principal=limits.max_concurrent_per_principal,
            total=limits.max_concurrent_total,
            on_refusal=lambda scope: metrics.concurrency_refused.labels(scope).inc(),
        ),
        *optional(
            not http.stateless_legacy,
            partial(
                SessionQuota,
                per_principal=limits.max_sessions_per_principal,
                is_open=lambda session_id: session_id in sessions(),
                on_refusal=lambda: metrics.concurrency_refused.labels("sessions").inc(),
            ),
        ),
    ]
    endpoint = reduce(lambda inner, layer: layer(inner), reversed(layers), build_mcp_http_app(mcp, http, mcp_path))
    metrics.count_sessions(lambda: len(sessions()))
    # One listener per pod: with workers the supervising process serves all of them (http_server).
    listener = metrics_address(settings) if multiprocess_dir() is None else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The SDK's own Starlette app is not used (its lifespan never runs): the host runs the session manager.
        async with mcp.session_manager.run(), anyio.create_task_group() as background:
            background.start_soon(drain.watch, in_flight.wait_idle)
            metrics_server = None if listener is None else serve_metrics(metrics.registry, listener)
            settle_heap()  # last: what start-up built stays out of every later collection
            readiness.started = True
            try:
                yield
            finally:
                background.cancel_scope.cancel()
                if metrics_server is not None:
                    metrics_server.shutdown()
                await close_buckets()

    app = FastPathApp(title=SERVER_TITLE, version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.openapi_url = None
    app.state.mcp, app.state.concurrency, app.state.drain = mcp, in_flight, drain  # for operators' hooks and tests
    app.include_router(health_router(readiness))
    if settings.observability.metrics_on_main_port:
        app.include_router(metrics_router(metrics))
    for router in auth_routes:
        app.include_router(router)
    app.serve_directly(mcp_path, endpoint)
    return app


def user_services(settings: Settings, upstreams: Upstreams) -> AbstractAsyncContextManager[Services]:
    """`services.open_services`, handed the upstream pool when it takes one (a project from before
    the upstream kit has `open_services(settings)` only, and keeps working unchanged)."""
    if "upstreams" in inspect.signature(open_services).parameters:
        return open_services(settings.services, upstreams=upstreams)  # type: ignore[call-arg,unused-ignore]
    return open_services(settings.services)  # type: ignore[call-arg,unused-ignore]


def optional(condition: object, layer: Layer) -> list[Layer]:
    """`[layer]` when `condition` holds, else nothing: for layers that settings switch off."""
    return [layer] if condition else []


def mcp_sessions(mcp: MCPServer[Any]) -> Callable[[], dict[str, Any]]:
    """The SDK's open legacy sessions (it keeps no public count; this reads its registry)."""
    return lambda: getattr(mcp.session_manager, "_server_instances", {})


async def _nothing_to_close() -> None:
    return None


def rate_limit_store(
    limits: LimitsSettings, metrics: Metrics
) -> tuple[Buckets, dict[str, ReadinessCheck], Callable[[], Any]]:
    """The token buckets (in process, or shared in Redis), their readiness check and their closer."""
    if limits.backend == "memory":
        return MemoryBuckets(), {}, _nothing_to_close
    from redis.asyncio import Redis  # the `redis` extra: imported only where it is used

    from .limits.redis_buckets import RedisBuckets

    # RedisBuckets bounds each whole call by the same timeout; these bound each socket step.
    timeout = limits.backend_timeout_seconds
    redis = Redis.from_url(limits.redis_url.get_secret_value(), socket_timeout=timeout, socket_connect_timeout=timeout)
    buckets = RedisBuckets(
        redis,
        prefix=limits.redis_key_prefix,
        when_unreachable=limits.on_backend_error,
        timeout_seconds=timeout,
        retry_seconds=limits.backend_retry_seconds,
        on_failure=metrics.rate_limit_backend_errors.inc,
    )
    return buckets, {"rate_limit_redis": buckets.readiness}, buckets.aclose


def authentication(
    settings: Settings, policy: ScopePolicy, metrics: Metrics
) -> tuple[list[Layer], dict[str, ReadinessCheck], list[APIRouter]]:
    """The credential check for the MCP endpoint (none with `AUTH__MODE=none`), the readiness
    checks it depends on, and the routes it publishes (OAuth protected-resource metadata)."""
    auth = settings.auth
    if auth.mode == "none":
        return [], {}, []
    verifiers: list[Verifier] = []
    checks: dict[str, ReadinessCheck] = {}
    routes: list[APIRouter] = []
    challenge = f'Bearer realm="{SERVER_NAME}"'
    if auth.uses_api_keys:
        from .auth.api_keys import ApiKeyVerifier

        verifiers.append(ApiKeyVerifier(auth.api_keys))
    oauth, resource_url = auth.oauth, auth.resource_url
    if auth.uses_oauth and oauth.issuer is not None and oauth.jwks_url is not None and resource_url is not None:
        from .auth.metadata import metadata_router, metadata_url
        from .auth.oauth import JwksCache, JwtVerifier  # the `oauth` extra: imported only where it is used

        keys = JwksCache(
            str(oauth.jwks_url),
            cache_seconds=oauth.jwks_cache_seconds,
            min_refresh_seconds=oauth.jwks_min_refresh_seconds,
        )
        verifiers.append(JwtVerifier(oauth, resource_url=resource_url, issuer=oauth.issuer, keys=keys))
        checks["oauth_jwks"] = keys.readiness
        routes.append(metadata_router(resource_url, oauth.issuer, scopes_supported=policy.all_scopes))
        challenge = f'Bearer resource_metadata="{metadata_url(resource_url)}"'
    throttle = FailureThrottle(
        max_failures=auth.max_failed_attempts, window_seconds=auth.failed_attempts_window_seconds
    )
    layer = partial(
        AuthGate,
        verifiers=verifiers,
        challenge=challenge,
        policy=policy,
        throttle=throttle,
        max_body_bytes=settings.http.max_request_body_bytes,
        accept_api_key_header=auth.uses_api_keys,
        on_refusal=lambda reason: metrics.auth_failures.labels(reason).inc(),
    )
    return [layer], checks, routes


def create_app_from_env(register: Register = register_tools) -> FastAPI:
    """uvicorn factory: each worker reads its settings from the environment."""
    settings = Settings()
    configure_observability(
        level=settings.observability.log_level,
        json_lines=settings.json_logs,
        audit_sink=settings.observability.audit_sink,
        otlp_endpoint=settings.observability.otlp_endpoint,
        service_name=SERVER_NAME,
        stdio=False,
    )
    return create_app(settings, register=register)
