"""Composition root: the one place that knows every room and wires them together.

Read it top to bottom. `build_mcp_server` assembles the MCP side: the tools, then the tool-call
middleware in the order a call meets it. `create_app` assembles the HTTP side: the tools and
their metrics, the shared limit store, the credential checks, and the layers of the MCP
endpoint listed outermost first. Optional parts are switched by settings, never by the template.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial, reduce
from typing import TYPE_CHECKING, Any, Literal

import anyio
from fastapi import APIRouter, FastAPI
from mcp.server import MCPServer
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import RequestStateSecurity
from mcp.types import Icon, SetLevelRequestParams
from starlette.types import ASGIApp

from . import __version__
from .auth.middleware import AuthGate
from .auth.scopes import ScopePolicy
from .auth.throttle import FailureThrottle
from .auth.tool_access import tool_access
from .auth.verifier import Verifier
from .caching.middleware import response_cache
from .caching.settings import CacheSettings
from .caching.stores import CacheStore, MemoryStore
from .exposure.gate import exposure_gate
from .exposure.policy import Exposure, ExposureRules
from .limits.concurrency import ConcurrencyLimiter, InFlight
from .limits.rate_limit import RateLimiter
from .limits.sessions import SessionQuota
from .limits.settings import LimitsSettings, ToolLimit
from .limits.token_bucket import Buckets, MemoryBuckets
from .limits.tool_limits import ToolBudget, rated_tools, tool_limits
from .observability.client_logs import ClientLogs
from .observability.exposition import metrics_router, serve_metrics
from .observability.metrics import Metrics, multiprocess_dir
from .observability.request_context import RequestRecorder
from .observability.setup import configure_observability
from .observability.tool_observer import observe
from .project import DESCRIPTION, ENV_PREFIX, SERVER_NAME, SERVER_TITLE
from .services import Services, open_services
from .settings import Settings, http_problems, metrics_address
from .toolkit.caller_credentials import pass_caller_credentials
from .toolkit.canary import register_canary
from .toolkit.idempotency import shared_store
from .toolkit.registry import Registry
from .toolkit.server import ErrorContractServer
from .tools import register_tools
from .transport.fast_path import FastPathApp
from .transport.health import Readiness, ReadinessCheck, health_router
from .transport.heap import settle_heap
from .transport.mcp_http import MCP_PATH, build_mcp_http_app
from .transport.pagination import paginate
from .transport.request_guard import ForwardedHeaders, RequestGuard
from .transport.shutdown import Drain, DrainGate
from .transport.subscriptions import ChangeNotifications, close_listen_streams
from .upstreams import Upstreams

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .transport.event_store_redis import SharedEvents

Register = Callable[[Registry], None]
"""Adds tools, resources and prompts: `tools.register_tools` unless a test adds its own."""

Layer = Callable[[ASGIApp], ASGIApp]
"""An ASGI middleware waiting for the app it wraps."""


def collect_tools(
    settings: Settings,
    register: Register = register_tools,
    upstreams: Upstreams | None = None,
    changes: ChangeNotifications | None = None,
) -> Registry:
    """The SDK server with everything `register` adds, and what each tool declared about itself."""
    pool = upstreams or Upstreams(settings.upstreams)
    changes = changes or change_notifications(settings, transport="stdio")
    mcp: ErrorContractServer[Services] = ErrorContractServer(
        name=SERVER_NAME,
        title=SERVER_TITLE,
        description=DESCRIPTION,
        version=__version__,
        instructions=settings.protocol.instructions,
        icons=[Icon(**icon.model_dump(exclude_none=True)) for icon in settings.protocol.icons] or None,
        lifespan=lambda _server: services_with_shared_state(settings, pool),
        # subscriptions/listen streams are closed when a drain starts (transport/shutdown.py).
        subscriptions=changes.subscriptions(),
        max_result_bytes=settings.output.max_result_bytes,
        cache_hints=list_cache_hints(settings),
        request_state_security=request_state_security(settings),
    )
    changes.attach(mcp)
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


LISTS = ("tools/list", "prompts/list", "resources/list", "resources/templates/list")


def list_cache_hints(settings: Settings) -> dict[Any, CacheHint]:
    """`ttlMs`/`cacheScope` on list results: lists change only on a deploy or an exposure change;
    with authentication they are filtered by each caller's scopes, so they are private then."""
    scope: Literal["public", "private"] = "public" if settings.auth.mode == "none" else "private"
    return {method: CacheHint(ttl_ms=settings.cache.list_ttl_seconds * 1000, scope=scope) for method in LISTS}


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
    registry: Registry,
    settings: Settings,
    metrics: Metrics,
    buckets: Buckets,
    *,
    transport: str,
    cache_store: CacheStore | None = None,
) -> MCPServer[Services]:
    """Wrap every MCP message, outermost first: observe everything (refusals included), then the
    operator's exposure lists (before scopes, so a disabled tool is "disabled" to everyone), then
    scopes (HTTP callers only carry them), then the response cache (a hit skips rates and
    deadlines; a miss meets them), then the caller's own upstream credentials (only when an
    upstream takes them), then per-tool deadlines and rates.

    Raises:
        ValueError: settings name tools, resources or prompts that are not registered.
    """
    problems = surface_problems(registry, settings)
    if problems:
        raise ValueError("; ".join(problems))
    mcp = registry.server
    client_logs = ClientLogs(settings.observability.client_log_level)
    mcp._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, client_logs.set_level)
    mcp.middleware.append(client_logs)  # outermost: the caller hears what handling its request logged
    mcp.middleware.append(observe(metrics, transport, audit=settings.observability.audit_sink != "off"))
    mcp.middleware.append(paginate(settings.protocol.page_size))  # outside the filters: pages what the caller sees
    if settings.exposure.allow or settings.exposure.deny:
        mcp.middleware.append(exposure_gate(exposure_of(registry, settings)))
    if transport == "http" and settings.auth.mode != "none":
        mcp.middleware.append(tool_access(scope_policy(registry, settings)))
    policies = {name: rules.cache for name, rules in registry.rules.items() if rules.cache is not None}
    if settings.cache.enabled and policies:
        store = cache_store or MemoryStore(settings.cache.max_entries, on_evict=metrics.cache_eviction)
        prefix = settings.cache.redis_key_prefix if settings.cache.backend == "redis" else ""
        mcp.middleware.append(
            response_cache(
                policies,
                store,
                max_stale_seconds=settings.cache.max_stale_seconds,
                prefix=prefix,
                on_outcome=metrics.cache_outcome,
            )
        )
    caller_headers = [u.caller_header for u in settings.upstreams.values() if u.caller_header is not None]
    if caller_headers:
        mcp.middleware.append(pass_caller_credentials(caller_headers))
    default = ToolBudget(timeout_seconds=settings.limits.tool_timeout_seconds)
    mcp.middleware.append(tool_limits(tool_budgets(registry, settings.limits), default, buckets))
    return mcp


def change_notifications(settings: Settings, *, transport: str) -> ChangeNotifications:
    """Where ctx.notify_* changes go: in process, or through Redis to every replica (HTTP only)."""
    http = settings.http
    url = http.subscriptions_redis_url
    return ChangeNotifications(
        enabled=http.subscriptions,
        redis_url=url.get_secret_value() if url is not None and transport == "http" else None,
        channel=f"{SERVER_NAME}:changes",
        legacy_sessions=transport == "http" and not http.stateless_legacy,
    )


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
    changes = change_notifications(settings, transport="http")
    registry = collect_tools(settings, register, upstreams, changes)
    metrics = Metrics(registry.rules, version=__version__)
    upstreams.on_change(lambda name, state: metrics.upstream_state(name, state.level))
    buckets, buckets_check, close_buckets = rate_limit_store(limits, metrics)
    cache_store = response_cache_store(settings.cache, metrics)
    mcp = attach_tool_middleware(registry, settings, metrics, buckets, transport="http", cache_store=cache_store)
    policy = scope_policy(registry, settings)
    throttle = failure_throttle(settings)
    authenticate, auth_checks, auth_routes = authentication(settings, policy, metrics, throttle)
    drain = Drain(
        budget_seconds=max(1.0, http.graceful_shutdown_seconds - 1), on_start=partial(close_listen_streams, mcp)
    )
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
            tool_rates=rated_tools(tool_budgets(registry, limits)),  # one take for all three buckets
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
    events = shared_session_events(settings)
    sdk = build_mcp_http_app(mcp, http, mcp_path, shared_events=events)
    endpoint = reduce(lambda inner, layer: layer(inner), reversed(layers), sdk)
    metrics.count_sessions(lambda: len(sessions()))
    # One listener per pod: with workers the supervising process serves all of them (http_server).
    listener = metrics_address(settings) if multiprocess_dir() is None else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The SDK's own Starlette app is not used (its lifespan never runs): the host runs the session manager.
        async with mcp.session_manager.run(), anyio.create_task_group() as background:
            background.start_soon(drain.watch, in_flight.wait_idle)
            await background.start(changes.run)
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
                with anyio.CancelScope(shield=True):  # the task group is cancelled: close for real
                    await throttle.aclose()
                    await cache_store.aclose()
                    if events is not None:
                        await events.aclose()

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


@asynccontextmanager
async def services_with_shared_state(settings: Settings, upstreams: Upstreams) -> AsyncIterator[Services]:
    """`user_services`; with STATE__BACKEND=redis every `IdempotencyCache` it builds keeps its keys
    in Redis, so a retry on another replica replays the first result (the project's services
    need no change for it)."""
    if settings.state.backend == "memory":
        async with user_services(settings, upstreams) as services:
            yield services
        return
    from .toolkit.idempotency_redis import RedisIdempotency  # the `redis` extra: imported only where used

    state = settings.state
    redis = state_redis(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(_shielded, redis.aclose)
        store = RedisIdempotency(redis, prefix=state.redis_key_prefix, timeout_seconds=state.timeout_seconds)
        with shared_store(store):
            services = await stack.enter_async_context(user_services(settings, upstreams))
        yield services


def request_state_security(settings: Settings) -> RequestStateSecurity | None:
    """The key that seals multi-round-trip state: STATE__REQUEST_STATE_SECRET, the same on every
    replica; None (the SDK's per-process key) where it is unset, which production HTTP refuses."""
    secret = settings.state.request_state_secret
    return None if secret is None else RequestStateSecurity(keys=[secret.get_secret_value()])


async def _shielded(close: Callable[[], Awaitable[None]]) -> None:
    """Run `close` even inside a cancelled scope (shutdown), so its sockets really close."""
    with anyio.CancelScope(shield=True):
        await close()


def state_redis(settings: Settings) -> Redis:
    """A client of the shared-state Redis (STATE__REDIS_URL), every socket step bounded."""
    from redis.asyncio import Redis

    timeout = settings.state.timeout_seconds
    url = settings.state.redis_url.get_secret_value()
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def shared_session_events(settings: Settings) -> SharedEvents | None:
    """Legacy sessions' replayable events in Redis (STATE__BACKEND=redis, legacy sessions on), so a
    reconnect gets what it missed on any replica; None keeps them in each session's process."""
    http, state = settings.http, settings.state
    if state.backend == "memory" or http.stateless_legacy or not http.replay_events:
        return None
    from .transport.event_store_redis import SharedEvents

    return SharedEvents(
        state_redis(settings),
        prefix=state.redis_key_prefix,
        max_events=http.replay_events,
        timeout_seconds=state.timeout_seconds,
    )


def failure_throttle(settings: Settings) -> FailureThrottle:
    """The brute-force guard: per process, or shared by every replica through Redis."""
    auth, state = settings.auth, settings.state
    if state.backend == "memory" or auth.mode == "none":
        return FailureThrottle(
            max_failures=auth.max_failed_attempts, window_seconds=auth.failed_attempts_window_seconds
        )
    from .auth.throttle_redis import RedisFailureThrottle

    return RedisFailureThrottle(
        state_redis(settings),
        prefix=state.redis_key_prefix,
        max_failures=auth.max_failed_attempts,
        window_seconds=auth.failed_attempts_window_seconds,
        timeout_seconds=state.timeout_seconds,
    )


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
    from redis.asyncio import BlockingConnectionPool, Redis  # the `redis` extra: imported only where used

    from .limits.redis_buckets import RedisBuckets

    # RedisBuckets bounds each whole call by the same timeout; these bound each socket step and the
    # wait for a free pooled connection (a bounded pool: a burst queues rather than opening more).
    timeout = limits.backend_timeout_seconds
    pool = BlockingConnectionPool.from_url(
        limits.redis_url.get_secret_value(),
        max_connections=limits.redis_max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    redis = Redis(connection_pool=pool)
    buckets = RedisBuckets(
        redis,
        prefix=limits.redis_key_prefix,
        when_unreachable=limits.on_backend_error,
        timeout_seconds=timeout,
        retry_seconds=limits.backend_retry_seconds,
        on_failure=metrics.rate_limit_backend_errors.inc,
    )
    return buckets, {"rate_limit_redis": buckets.readiness}, buckets.aclose


def response_cache_store(cache: CacheSettings, metrics: Metrics) -> CacheStore:
    """Where cached tool results live: a bounded LRU in this process, or Redis shared by replicas."""
    if cache.backend == "memory":
        return MemoryStore(cache.max_entries, on_evict=metrics.cache_eviction)
    from redis.asyncio import Redis  # the `redis` extra: imported only where it is used

    from .caching.redis_store import RedisStore

    timeout = cache.backend_timeout_seconds
    redis = Redis.from_url(cache.redis_url.get_secret_value(), socket_timeout=timeout, socket_connect_timeout=timeout)
    return RedisStore(redis, timeout_seconds=timeout, on_failure=metrics.tool_cache_backend_errors.inc)


def authentication(
    settings: Settings, policy: ScopePolicy, metrics: Metrics, throttle: FailureThrottle
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
