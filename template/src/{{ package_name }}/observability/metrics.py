"""Every Prometheus metric this server exports, bound to one registry per app.

Names follow the OpenTelemetry MCP semantic conventions (`mcp.server.operation.duration` with
`mcp.method.name`, `gen_ai.tool.name`, `error.type`, `network.transport`,
`mcp.protocol.version`), so dashboards line up with the SDK's spans. Every label comes from a
bounded set: unknown tool names, methods and versions collapse into "other".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from mcp_types.version import KNOWN_PROTOCOL_VERSIONS
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Metric, ProcessCollector
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from .container_limits import ContainerLimits
from .pod_process import PodProcessCollector

METHODS = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "tools/list",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "notifications/initialized",
        "notifications/cancelled",
    }
)
VERSIONS = frozenset(KNOWN_PROTOCOL_VERSIONS)
OTHER = "other"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SIZE_BUCKETS = (128, 512, 2048, 8192, 32_768, 131_072, 524_288, 2_097_152)


SUPERVISOR_PID = "MCP_SERVER_SUPERVISOR_PID"
"""Set by `serve` in multiprocess mode: the process whose tree is the pod (the workers' parent)."""


def multiprocess_dir() -> str | None:
    """Where worker processes share metric files (set for `--workers` above 1), if anywhere."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def supervisor_pid() -> int:
    """The pod's top process in multiprocess mode (this one when `serve` did not say)."""
    value = os.environ.get(SUPERVISOR_PID, "")
    return int(value) if value.isdigit() else os.getpid()


class PodRegistry(CollectorRegistry):
    """Every worker's metric files summed, the pod's processes, and the container's limits.

    Before each scrape, the files of live-mode gauges (`livesum`, `livemostrecent`) left by
    workers that are gone are dropped, so a replaced worker's last values do not linger.
    """

    def __init__(self, directory: str, supervisor: int) -> None:
        super().__init__()
        self.directory = directory
        self.processes = PodProcessCollector(supervisor)
        MultiProcessCollector(self, path=directory)  # type: ignore[no-untyped-call]
        self.register(self.processes)
        self.register(ContainerLimits())

    def collect(self) -> Iterable[Metric]:
        live = self.processes.pids()
        if live:  # an unreadable /proc tells nothing about who is gone
            for path in Path(self.directory).glob("gauge_live*_*.db"):
                pid = path.stem.rpartition("_")[2]
                if pid.isdigit() and int(pid) not in live:
                    mark_process_dead(int(pid), self.directory)  # type: ignore[no-untyped-call]
        return super().collect()


class Metrics:
    """The metric families, and bounded label values for them."""

    def __init__(self, tools: Iterable[str], *, version: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.tools = frozenset(tools)
        r = self.registry
        self.operation_seconds = Histogram(
            "mcp_server_operation_duration_seconds",
            "Duration of MCP requests handled by the server.",
            ("mcp_method_name", "gen_ai_tool_name", "error_type", "network_transport", "mcp_protocol_version"),
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.tool_errors = Counter(
            "mcp_server_tool_errors_total",
            "Tool calls that returned isError, by error type.",
            ("gen_ai_tool_name", "error_type"),
            registry=r,
        )
        self.tool_result_bytes = Histogram(
            "mcp_server_tool_result_bytes",
            "Size of tool results sent to the client (context-window creep shows here).",
            ("gen_ai_tool_name",),
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self.auth_failures = Counter(
            "mcp_server_auth_failures_total",
            "Requests refused by authentication or authorization.",
            ("reason",),
            registry=r,
        )
        self.rate_limited = Counter(
            "mcp_server_rate_limited_total", "Requests or tool calls refused by a rate limit.", ("scope",), registry=r
        )
        self.concurrency_refused = Counter(
            "mcp_server_concurrency_refused_total",
            "Requests refused because too many were in flight.",
            ("scope",),
            registry=r,
        )
        self.in_flight = Gauge(
            "mcp_server_tool_calls_in_flight", "Tool calls running now.", multiprocess_mode="livesum", registry=r
        )
        self.sessions = Gauge(
            "mcp_server_active_sessions",
            "Open legacy (pre-2026) sessions; 0 when the legacy leg is stateless.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.rate_limit_backend_errors = Counter(
            "mcp_server_rate_limit_backend_errors_total",
            "Rate-limit takes that could not reach the backend.",
            registry=r,
        )
        self.build = Gauge(
            "mcp_server_build_info",
            "Version of this server (always 1).",
            ("version",),
            multiprocess_mode="max",
            registry=r,
        )
        self.build.labels(version).set(1)
        # Most recent rather than min: a worker that no probe has reached yet would read 0.
        self.ready = Gauge(
            "mcp_server_ready",
            "1 when the latest readiness evaluation found the server ready, else 0.",
            multiprocess_mode="livemostrecent",
            registry=r,
        )
        self.readiness_changes = Counter(
            "mcp_server_readiness_changes_total", "Times readiness flipped between ready and not ready.", registry=r
        )
        self.upstream_circuit = Gauge(
            "mcp_server_upstream_circuit_state",
            "Circuit breaker of each upstream: 0 closed, 1 half open (probing), 2 open (failing fast).",
            ("upstream",),
            multiprocess_mode="livemax",
            registry=r,
        )
        self.tool_cache = Counter(
            "mcp_server_tool_cache_total",
            "Calls of cached tools by outcome: hit, miss, stale (a past-TTL answer served on a temporary error).",
            ("gen_ai_tool_name", "outcome"),
            registry=r,
        )
        self.tool_cache_evictions = Counter(
            "mcp_server_tool_cache_evictions_total",
            "Entries the in-memory response cache pushed out to stay within CACHE__MAX_ENTRIES.",
            ("gen_ai_tool_name",),
            registry=r,
        )
        self.tool_cache_backend_errors = Counter(
            "mcp_server_tool_cache_backend_errors_total",
            "Response-cache reads or writes that could not reach Redis (the call ran uncached).",
            registry=r,
        )
        self._last_ready: bool | None = None
        if multiprocess_dir() is None:  # in multiprocess mode the pod's registry reports these
            ProcessCollector(registry=r)
            r.register(ContainerLimits())
        # Label sets are bounded (see the *_label methods), so their children are kept here:
        # prometheus_client's labels() validates and locks on every call.
        self._operations: dict[tuple[str, ...], Histogram] = {}
        self._result_sizes: dict[str, Histogram] = {}

    def operation(self, method: str, tool: str, error_type: str, transport: str, version: str) -> Histogram:
        """The duration histogram for one set of (bounded) labels."""
        key = (method, tool, error_type, transport, version)
        child = self._operations.get(key)
        if child is None:
            child = self._operations[key] = self.operation_seconds.labels(*key)
        return child

    def result_size(self, tool: str) -> Histogram:
        """The result-size histogram of one (bounded) tool label."""
        child = self._result_sizes.get(tool)
        if child is None:
            child = self._result_sizes[tool] = self.tool_result_bytes.labels(tool)
        return child

    def cache_outcome(self, tool: str, outcome: str) -> None:
        """Count one cached tool call (tool names are the registered ones, so labels are bounded)."""
        self.tool_cache.labels(tool, outcome).inc()

    def cache_eviction(self, tool: str) -> None:
        """Count one entry pushed out of the memory cache."""
        self.tool_cache_evictions.labels(tool).inc()

    def upstream_state(self, upstream: str, level: int) -> None:
        """Record a breaker change (upstream names come from settings, so the label set is bounded)."""
        self.upstream_circuit.labels(upstream).set(level)

    def count_sessions(self, count: Callable[[], int]) -> None:
        """Report open legacy sessions from `count` at scrape time (single process only: in
        multiprocess mode each worker's sessions are its own and the gauge stays 0)."""
        if multiprocess_dir() is None:
            self.sessions.set_function(count)

    def readiness_evaluated(self, ready: bool) -> None:
        """Record one readiness evaluation (a change from the previous one counts as a flip)."""
        self.ready.set(1 if ready else 0)
        if self._last_ready is not None and ready != self._last_ready:
            self.readiness_changes.inc()
        self._last_ready = ready

    def tool_label(self, name: object) -> str:
        """`name` when it is a registered tool, else "other" (arbitrary input never makes a series)."""
        return name if isinstance(name, str) and name in self.tools else OTHER

    @staticmethod
    def method_label(method: str) -> str:
        return method if method in METHODS else OTHER

    @staticmethod
    def version_label(version: str | None) -> str:
        return version if version in VERSIONS else OTHER

    def exposition_registry(self) -> CollectorRegistry:
        """What /metrics serves: this registry, or the whole pod's in multiprocess mode."""
        directory = multiprocess_dir()
        if directory is None:
            return self.registry
        return PodRegistry(directory, supervisor_pid())
