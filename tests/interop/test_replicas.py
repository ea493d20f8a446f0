"""Two replicas of a rendered project behind nginx, sharing one Redis: the deployment of issue #9, for real.

The `full` answer set is rendered and synced; Debian's redis-server, two `serve` processes and an
nginx round-robin proxy (no session affinity) run on loopback ports. Through the proxy: both protocol
eras are served by both replicas without sessions, the per-principal rate limit is one limit across
the replicas, and SIGTERM to one replica under load loses no call (its in-flight calls finish, new
requests it refuses with 503 are retried by nginx on the other replica, nothing else reaches the client).
With legacy sessions on and nginx keeping affinity (ip_hash), a stream cut on a replica that is then
stopped resumes with `Last-Event-ID` on the other, from the messages kept in Redis.

Needs nginx and redis-server (.ci/run installs them): skipped without them, failed in CI (CI=true).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..conftest import free_port, load_answers, project_env, render, sh

pytestmark = [pytest.mark.interop, pytest.mark.slow]

ANSWERS = load_answers("full")
PREFIX = ANSWERS["env_prefix"]
COMMAND = "acme-tickets-mcp"
"""The rendered project's console script (from project_name)."""
PUBLIC_HOST = "mcp.test"
"""The Host clients use; nginx passes it on, and it is the only one the replicas accept."""
BURST = 100
"""Per-principal burst N; the refill rate is tiny, so 2N quick calls must give N successes."""
RATE = 0.01
GRACE = 10
SLOW = {"topic": "drain", "steps": 4, "step_seconds": 0.5}
"""4 x 0.5 s: still running when SIGTERM lands."""
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "interop", "version": "0"},
}
KEY_NAMES = ("eras", "metered", "slow", "load-1", "load-2", "load-3")
"""One principal per client, so each check starts from a full bucket of BURST tokens."""


STATE_KEY = "state"
"""The key of the shared-state tests (idempotency, elicitation): it may use the note tools."""
SEALING_SECRET = secrets.token_hex(32)


def shared_state(redis_port: int) -> dict[str, str]:
    """Idempotency keys and the lockout in the same Redis; one multi-round-trip sealing key."""
    return {
        "STATE__BACKEND": "redis",
        "STATE__REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "STATE__REQUEST_STATE_SECRET": SEALING_SECRET,
    }


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} is not installed; CI must install it (.ci/run: apt-get install {binary})")
        pytest.skip(f"{binary} is not installed locally (apt-get install nginx redis-server); CI always runs this")
    return path


def clean_env() -> dict[str, str]:
    """The environment minus the template's venv, pytest's and uv's variables and any setting of the server."""
    return project_env("UV_", PREFIX)


def wait_for(check: Any, what: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        if process.poll() is not None:
            pytest.fail(f"{what} exited early ({process.returncode}):\n{tail(log)}")
        time.sleep(0.05)
    pytest.fail(f"{what} did not come up within {timeout} s:\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"


def get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def redis_pong(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16).startswith(b"+PONG")


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`, read from the replica's /metrics
        (its separate metrics listener)."""
        status, text = get(self.metrics_port, "/metrics")
        assert status == 200
        total = 0.0
        for line in text.splitlines():
            sample, _, value = line.rpartition(" ")
            named = sample == name or sample.startswith(name + "{")
            if named and all(f'{k}="{v}"' in sample for k, v in labels.items()):
                total += float(value)
        return total

    def tool_calls(self, tool: str) -> float:
        return self.metric(
            "mcp_server_operation_duration_seconds_count", mcp_method_name="tools/call", gen_ai_tool_name=tool
        )


@dataclass
class Cluster:
    replicas: list[Replica]
    proxy_port: int
    keys: dict[str, str]
    access_log: Path
    project: Path
    env: dict[str, str]
    """The replicas' environment, for tests that start replicas of their own."""

    def named(self, counts: Counter[str]) -> dict[str, int]:
        """`counts` by replica address, keyed by replica name instead (for the printed report)."""
        names = {r.address: r.name for r in self.replicas}
        return dict(sorted((names.get(address, address), count) for address, count in counts.items()))


@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None

    @property
    def replica(self) -> str:
        """The replica that answered (nginx's $upstream_addr lists every one it tried; the last answered)."""
        return self.headers.get("x-replica", "").split(",")[-1].strip()

    @property
    def retried(self) -> bool:
        return "," in self.headers.get("x-replica", "")

    def message(self) -> dict[str, Any]:
        """The JSON-RPC response, from a JSON body (2026-07-28) or the last SSE event (legacy)."""
        text = self.body.decode()
        if self.headers.get("content-type", "").startswith("text/event-stream"):
            text = [line.removeprefix("data:") for line in text.splitlines() if line.startswith("data:")][-1]
        message: dict[str, Any] = json.loads(text)
        return message

    def result(self) -> dict[str, Any]:
        result: dict[str, Any] = self.message()["result"]
        assert not result.get("isError"), result
        return result


def call(port: int, key: str, tool: str, arguments: dict[str, Any], *, era: str, timeout: float = 30) -> Reply:
    """One tools/call through `port` on a fresh connection, as a client of either protocol era."""
    headers = {
        "Host": PUBLIC_HOST,
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {key}",
    }
    params: dict[str, Any] = {"name": tool, "arguments": arguments}
    if era == "modern":
        headers |= {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool}
        params["_meta"] = MODERN_META
    else:  # stateless legacy: no initialize, no Mcp-Session-Id, any replica may answer
        headers["MCP-Protocol-Version"] = "2025-11-25"
    return post(port, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}, headers, timeout)


def post(port: int, message: dict[str, Any], headers: dict[str, str], timeout: float = 30) -> Reply:
    """POST one JSON-RPC message to /mcp on a fresh connection; transport failures become `error`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/mcp", body=json.dumps(message), headers=headers)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    except (OSError, http.client.HTTPException) as exc:
        return Reply(error=f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def gen_key(project: Path, name: str, scopes: tuple[str, ...] = ("probe:read",)) -> tuple[str, dict[str, Any]]:
    """A key and its AUTH__API_KEYS entry, from the project's own `gen-key` command."""
    granted = [arg for scope in scopes for arg in ("--scope", scope)]
    out = sh(str(project / ".venv/bin" / COMMAND), "gen-key", "--id", name, *granted, cwd=project).stdout
    key = re.search(r"^\s+(mcpk_\S+)$", out, re.MULTILINE)
    entry = re.search(r"^\s+(\{.*\})$", out, re.MULTILINE)
    assert key, out
    assert entry, out
    return key.group(1), json.loads(entry.group(1))


def nginx_conf(tmp: Path, port: int, replicas: list[Replica], *, balance: str = "") -> str:
    servers = "\n".join(f"        server {r.address} max_fails=1 fail_timeout=10s;" for r in replicas)
    if balance:
        servers = f"        {balance}\n{servers}"
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers (else nobody) write to the 0700 tmp dir
    return f"""{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 512; }}
http {{
    log_format replicas '$status "$upstream_addr" "$upstream_status" $request_time';
    access_log {tmp}/access.log replicas;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    # Plain round robin unless `balance` says otherwise: no ip_hash, hash or sticky cookie. Legacy
    # clients are stateless (no Mcp-Session-Id) and 2026-07-28 requests carry everything they need,
    # so any replica will do. (Legacy sessions need affinity: their test passes `ip_hash;`.)
    upstream mcp_replicas {{
{servers}
        # Open connections are reused, as ingress controllers do: requests can land on a replica
        # that has just started to drain (its 503s are retried below).
        keepalive 16;
    }}

    server {{
        listen 127.0.0.1:{port};

        location = /mcp {{
            proxy_pass http://mcp_replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Legacy responses are SSE: pass events through as they come, never buffer them.
            proxy_buffering off;
            proxy_cache off;
            # The request body stays buffered (the default) so that a retry can send it again.
            proxy_request_buffering on;
            # Above the server's tool deadline (LIMITS__TOOL_TIMEOUT_SECONDS, 60 s): a slow call is
            # answered by its replica, never timed out here and sent again.
            proxy_read_timeout 90s;
            proxy_connect_timeout 2s;

            # Retries, including POSTs (non_idempotent), only for refusals that happen before a tool runs:
            # - http_503: every 503 this server sends is a refusal at the edge, before the MCP handler:
            #   the drain gate of a replica shutting down, the overall concurrency cap, the overall rate
            #   bucket, the rate-limit backend being down with ON_BACKEND_ERROR=deny, and uvicorn's
            #   limit_concurrency. Another replica may well accept the same request.
            # - error/timeout: a replica being stopped closes its listener (connection refused: nothing
            #   was sent) and closes connections it has not read a request from; requests it did accept
            #   are drained, not cut. The one case where a tool may have run is a replica that crashes
            #   mid-call (OOM kill, SIGKILL after the grace period): such a call can run twice, so
            #   destructive tools need idempotency keys in a shared store (idempotency.py is per process).
            # 429 is not retried: the limit is shared through Redis, another replica would say the same.
            proxy_next_upstream error timeout http_503 non_idempotent;
            proxy_next_upstream_tries 2;
            proxy_next_upstream_timeout 10s;

            # The public name goes upstream as the Host (HTTP__ALLOWED_HOSTS lists only it); the
            # replicas believe X-Forwarded-For from 127.0.0.1 (HTTP__TRUSTED_PROXIES), so the auth
            # failure throttle and unauthenticated rate limits see clients, not the proxy.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # For the test: which replica answered.
            add_header X-Replica $upstream_addr always;
        }}
    }}
}}
"""


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=GRACE + 5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """redis-server, two replicas of the rendered `full` project and nginx in front, all on loopback."""
    nginx, redis_server = need("nginx"), need("redis-server")
    tmp = tmp_path_factory.mktemp("replicas")
    project = render(tmp / "project", ANSWERS)
    sh("uv", "sync", "--quiet", cwd=project, env=clean_env())
    keys, entries = {}, []
    for name in KEY_NAMES:
        keys[name], entry = gen_key(project, name)
        entries.append(entry)
    keys[STATE_KEY], entry = gen_key(project, STATE_KEY, ("notes:read", "notes:write"))
    entries.append(entry)

    with ExitStack() as stack:
        redis_port = free_port()
        redis_log = tmp / "redis.log"
        command = [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(tmp), "--logfile", str(redis_log)]
        redis = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(stop, redis)
        wait_for(lambda: redis_pong(redis_port), "redis-server", redis, redis_log)

        settings = {
            "ENVIRONMENT": "development",
            "AUTH__API_KEYS": json.dumps(entries),
            "HTTP__ALLOWED_HOSTS": json.dumps([PUBLIC_HOST]),
            "HTTP__TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
            "HTTP__GRACEFUL_SHUTDOWN_SECONDS": str(GRACE),
            "LIMITS__BACKEND": "redis",
            "LIMITS__REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "LIMITS__ON_BACKEND_ERROR": "deny",  # a Redis problem fails the checks instead of passing them
            "HTTP__SUBSCRIPTIONS_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",  # change notifications
            "LIMITS__PER_PRINCIPAL_RATE": str(RATE),
            "LIMITS__PER_PRINCIPAL_BURST": str(BURST),
            "OBSERVABILITY__AUDIT_SINK": "off",
            **shared_state(redis_port),
        }
        env = clean_env() | {PREFIX + name: value for name, value in settings.items()}
        env["PYTHONPATH"] = str(project)  # the project's test server: its probes are in tests/fixtures
        replicas = start_replicas(stack, project, env, tmp, ("replica-a", "replica-b"))
        proxy_port = start_nginx(stack, nginx, tmp, replicas)
        yield Cluster(replicas, proxy_port, keys, tmp / "access.log", project, env)


def start_replicas(
    stack: ExitStack, project: Path, env: dict[str, str], tmp: Path, names: tuple[str, ...]
) -> list[Replica]:
    """`serve` processes of the project's test server with `env`, ready, stopped when `stack` closes."""
    replicas = []
    for name in names:
        port, metrics_port = free_port(), free_port()
        log = tmp / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(project / ".venv/bin/python"), "-m", "tests.fixture_server", "serve", "--port", str(port)],
                cwd=project,
                env=env | {PREFIX + "OBSERVABILITY__METRICS_PORT": str(metrics_port)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        stack.callback(stop, process, signal.SIGKILL)
        replicas.append(Replica(name, port, process, log, metrics_port))
    for replica in replicas:
        port = replica.port
        wait_for(lambda port=port: get(port, "/readyz")[0] == 200, replica.name, replica.process, replica.log)
    return replicas


def start_nginx(stack: ExitStack, nginx: str, tmp: Path, replicas: list[Replica], *, balance: str = "") -> int:
    """nginx in front of `replicas` (`balance`: an upstream directive such as `ip_hash;`), on a free port."""
    proxy_port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(tmp, proxy_port, replicas, balance=balance))
    error_log = tmp / "error.log"
    proxy = subprocess.Popen(
        [nginx, "-p", str(tmp), "-e", str(error_log), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(stop, proxy)
    wait_for(
        lambda: socket.create_connection(("127.0.0.1", proxy_port), timeout=0.5).close() is None,
        "nginx",
        proxy,
        error_log,
    )
    return proxy_port


def test_both_eras_are_served_by_both_replicas_without_affinity(cluster: Cluster) -> None:
    """2026-07-28 calls and stateless 2025-11-25 calls succeed through nginx; both replicas answer."""
    # A legacy handshake opens no session, so the next request may go to the other replica.
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    headers = {
        "Host": PUBLIC_HOST,
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {cluster.keys['eras']}",
    }
    handshake = post(cluster.proxy_port, initialize, headers)
    assert handshake.status == 200, handshake
    assert handshake.message()["result"]["protocolVersion"] == "2025-11-25"
    assert "mcp-session-id" not in handshake.headers
    before = {r.address: r.tool_calls("probe_search") for r in cluster.replicas}
    replies = {
        era: [
            call(cluster.proxy_port, cluster.keys["eras"], "probe_search", {"query": "release"}, era=era)
            for _ in range(6)
        ]
        for era in ("modern", "legacy")
    }
    for era, batch in replies.items():
        for reply in batch:
            assert reply.error is None, (era, reply)
            assert reply.status == 200, (era, reply)
            assert reply.result()["structuredContent"]["items"][0]["id"] == "p-001"
            assert "mcp-session-id" not in reply.headers
        split = Counter(reply.replica for reply in batch)
        assert set(split) == {r.address for r in cluster.replicas}, (era, split)
    # The replicas' own counters agree with what nginx said.
    answered = Counter(reply.replica for batch in replies.values() for reply in batch)
    for replica in cluster.replicas:
        assert replica.tool_calls("probe_search") - before[replica.address] == answered[replica.address]
    print(f"\n[eras] 6 modern + 6 legacy calls, all 200; per replica: {cluster.named(answered)}")


def test_the_rate_limit_is_one_limit_across_replicas(cluster: Cluster) -> None:
    """With a burst of N and a tiny refill, 2N quick calls through nginx give N successes, not 2N."""
    key = cluster.keys["metered"]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(
            pool.map(
                lambda i: call(
                    cluster.proxy_port, key, "probe_search", {"query": "x"}, era="modern" if i % 2 else "legacy"
                ),
                range(2 * BURST),
            )
        )
    elapsed = time.monotonic() - started
    statuses = Counter(reply.status for reply in replies)
    assert set(statuses) <= {200, 429}, statuses
    refill = RATE * elapsed
    assert BURST <= statuses[200] <= BURST + 1 + refill, (statuses, elapsed)
    assert all(reply.headers.get("retry-after") for reply in replies if reply.status == 429)
    ok = Counter(reply.replica for reply in replies if reply.status == 200)
    limited = Counter(reply.replica for reply in replies if reply.status == 429)
    assert len(ok) == len(limited) == 2, (ok, limited)  # both replicas spent and refused from one bucket
    print(
        f"\n[rate limit] burst {BURST}, refill {RATE}/s: {2 * BURST} calls in {elapsed:.1f} s -> "
        f"{statuses[200]} x 200 {cluster.named(ok)}, {statuses[429]} x 429 {cluster.named(limited)}"
    )


def test_a_retried_delete_runs_once_whichever_replica_gets_it(cluster: Cluster) -> None:
    """Each replica keeps its own notes: a delete that ran on the second would leave it without n-002."""
    first, second = cluster.replicas
    key, arguments = cluster.keys[STATE_KEY], {"note_id": "n-002", "idempotency_key": "replicas-000001"}
    replies = [call(replica.port, key, "delete_note", arguments, era="modern") for replica in (first, second)]
    assert replies[0].result()["structuredContent"]["deleted_id"] == "n-002"
    assert replies[1].result()["structuredContent"] == replies[0].result()["structuredContent"]
    listed = call(second.port, key, "search_notes", {"query": "e", "limit": 10}, era="modern").result()
    assert "n-002" in [note["id"] for note in listed["structuredContent"]["notes"]]
    gone = call(first.port, key, "search_notes", {"query": "e", "limit": 10}, era="modern").result()
    assert "n-002" not in [note["id"] for note in gone["structuredContent"]["notes"]]
    print(f"\n[idempotency] delete on {first.name}, retry on {second.name}: replayed, ran once")


def test_a_lockout_earned_on_one_replica_holds_on_the_other(cluster: Cluster) -> None:
    """Invalid keys through nginx (one client address for both replicas, X-Forwarded-For trusted):
    past AUTH__MAX_FAILED_ATTEMPTS (10) both replicas answer 429; a valid key still gets through."""
    bad = "mcpk_" + secrets.token_urlsafe(32)
    guesses = [call(cluster.proxy_port, bad, "search_notes", {"query": "x"}, era="modern") for _ in range(10)]
    assert [reply.status for reply in guesses] == [401] * 10
    locked = [call(cluster.proxy_port, bad, "search_notes", {"query": "x"}, era="modern") for _ in range(4)]
    assert [reply.status for reply in locked] == [429] * 4, [reply.status for reply in locked]
    assert {reply.replica for reply in locked} == {r.address for r in cluster.replicas}
    valid = call(cluster.proxy_port, cluster.keys[STATE_KEY], "search_notes", {"query": "x"}, era="modern")
    assert valid.status == 200
    retry_after = sorted(int(reply.headers["retry-after"]) for reply in locked)
    print(f"\n[lockout] 10 x 401 split over both replicas, then 4 x 429 from both (Retry-After {retry_after})")


def test_an_elicitation_started_on_one_replica_finishes_on_the_other(cluster: Cluster) -> None:
    """2026-07-28: the input-required result from one replica, answered and retried on the other, which
    opens the sealed requestState with the shared STATE__REQUEST_STATE_SECRET and deletes the note."""
    first, second = cluster.replicas
    tool, arguments = "delete_note_with_confirmation", {"note_id": "n-004"}
    headers = {
        "Host": PUBLIC_HOST,
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {cluster.keys[STATE_KEY]}",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": tool,
    }
    meta = {**MODERN_META, "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}}}
    params: dict[str, Any] = {"name": tool, "arguments": arguments, "_meta": meta}
    asked = post(first.port, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}, headers).result()
    assert asked["resultType"] == "input_required", asked
    (question,) = asked["inputRequests"]
    params |= {
        "inputResponses": {question: {"action": "accept", "content": {"confirm": True}}},
        "requestState": asked["requestState"],
    }
    done = post(second.port, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": params}, headers).result()
    assert done["structuredContent"] == {"deleted": True, "note_id": "n-004", "reason": "the user confirmed"}
    print(f"\n[elicitation] asked by {first.name}, answered and finished on {second.name}")


def get_stream(port: int, headers: dict[str, str], timeout: float = 10) -> Reply:
    """A GET of /mcp through `port`, read to its end (a replay from another replica ends)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/mcp", headers=headers)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def test_a_stream_cut_on_a_stopped_replica_resumes_on_the_other(cluster: Cluster, tmp_path: Path) -> None:
    """Legacy sessions (HTTP__STATELESS_LEGACY=false) behind nginx with affinity (ip_hash), their
    events in the shared Redis: a call's stream is cut before its answer (test_reconnection), the
    replica that holds the session is stopped, and the client's reconnect with Last-Event-ID, which
    nginx now sends to the other replica, gets the answer from Redis. The session itself went with
    its replica: the next request gets 404, and the client opens a new session."""
    env = cluster.env | {PREFIX + "HTTP__STATELESS_LEGACY": "false", PREFIX + "STATE__REDIS_KEY_PREFIX": "resume:"}
    headers = {
        "Host": PUBLIC_HOST,
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {cluster.keys[STATE_KEY]}",
    }
    initialize = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    cut_call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "test_reconnection", "arguments": {}},
    }
    with ExitStack() as stack:
        replicas = start_replicas(stack, cluster.project, env, tmp_path, ("sticky-a", "sticky-b"))
        port = start_nginx(stack, need("nginx"), tmp_path, replicas, balance="ip_hash;")
        opened = post(port, initialize, headers)
        assert opened.status == 200, opened
        holder = next(r for r in replicas if r.address == opened.replica)
        other = next(r for r in replicas if r is not holder)
        headers |= {"Mcp-Session-Id": opened.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        assert post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers).status == 202
        cut = post(port, cut_call, headers)
        events = [line for line in cut.body.decode().splitlines() if line]
        assert cut.replica == holder.address, cut
        assert events[1:] == ["data: ", "retry: 1000"], cut  # primed, then closed before the answer
        time.sleep(1.0)  # the tool answers 0.05 s after closing its stream: the answer is stored by now
        stop(holder.process)
        resumed = get_stream(port, headers | {"Accept": "text/event-stream", "Last-Event-ID": events[0][4:]})
        gone = post(port, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers)
    assert resumed.status == 200, resumed
    assert resumed.replica == other.address, resumed
    assert resumed.message()["id"] == 1
    assert resumed.result()["content"][0]["text"] == "Reconnection test completed."
    assert gone.status == 404, gone  # the session lived on the stopped replica
    print(f"\n[resume] stream cut on {holder.name}, which stopped; the answer replayed by {other.name}")


def listen_through(port: int, key: str, uris: list[str]) -> tuple[http.client.HTTPConnection, Any]:
    """Open a 2026-07-28 `subscriptions/listen` stream for `uris` through `port` (its response stays open)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    params = {"notifications": {"resourceSubscriptions": uris}, "_meta": MODERN_META}
    headers = {
        "Host": PUBLIC_HOST,
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {key}",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "subscriptions/listen",
    }
    body = {"jsonrpc": "2.0", "id": "watch", "method": "subscriptions/listen", "params": params}
    conn.request("POST", "/mcp", body=json.dumps(body), headers=headers)
    return conn, conn.getresponse()


def next_frame(response: Any) -> dict[str, Any]:
    """The next SSE `data:` message on `response` (the socket timeout bounds the wait)."""
    while True:
        line = response.fp.readline().decode()
        if not line:
            raise EOFError("the listen stream ended")
        if line.startswith("data:"):
            frame: dict[str, Any] = json.loads(line.removeprefix("data:"))
            return frame


def test_a_change_on_one_replica_reaches_a_listener_on_the_other(cluster: Cluster) -> None:
    """A listen stream held by one replica hears the changes announced by calls the other replica
    answered (Redis pub/sub, HTTP__SUBSCRIPTIONS_REDIS_URL), each exactly once."""
    key = cluster.keys["eras"]
    uris = [f"probe://items/p-00{i}" for i in range(1, 7)]
    conn, response = listen_through(cluster.proxy_port, key, uris)
    try:
        assert response.status == 200
        listener = response.getheader("x-replica", "").split(",")[-1].strip()
        ack = next_frame(response)
        assert ack["method"] == "notifications/subscriptions/acknowledged", ack
        answered = {}
        for index, uri in enumerate(uris, start=1):
            reply = call(cluster.proxy_port, key, "probe_touch", {"item_id": f"p-00{index}"}, era="modern")
            assert reply.status == 200, reply
            assert reply.result()["structuredContent"]["result"] == uri
            answered[uri] = reply.replica
        heard = [next_frame(response) for _ in uris]
    finally:
        conn.close()
    assert {frame["method"] for frame in heard} == {"notifications/resources/updated"}
    assert sorted(frame["params"]["uri"] for frame in heard) == uris  # every change once, wherever announced
    elsewhere = [uri for uri, replica in answered.items() if replica != listener]
    assert elsewhere, f"every touch landed on the listener's replica {listener}: {answered}"
    print(
        f"\n[subscriptions] listener on {listener}; {len(elsewhere)} of {len(uris)} changes came from the other replica"
    )


def test_sigterm_to_one_replica_under_load_loses_no_call(cluster: Cluster) -> None:
    """Slow calls in flight plus a steady stream: the stopped replica finishes its calls and exits 0;
    the client only ever sees results, or clean refusals with Retry-After."""
    victim, survivor = cluster.replicas
    assert victim.process.poll() is None
    assert survivor.process.poll() is None
    port = cluster.proxy_port
    stop_stream = threading.Event()
    quick: list[tuple[float, Reply]] = []
    slow: list[Reply] = []
    lock = threading.Lock()

    def stream(name: str) -> None:
        for i in range(BURST - 5):  # bounded, and within this principal's budget: no 429 expected
            if stop_stream.is_set():
                return
            sent = time.monotonic()
            reply = call(port, cluster.keys[name], "probe_search", {"query": "ops"}, era=("modern", "legacy")[i % 2])
            with lock:
                quick.append((sent, reply))
            time.sleep(0.04)

    def slow_call(i: int) -> None:
        reply = call(port, cluster.keys["slow"], "probe_work", SLOW, era=("modern", "legacy")[i % 2])
        with lock:
            slow.append(reply)

    streams = [threading.Thread(target=stream, args=(f"load-{n}",), daemon=True) for n in (1, 2, 3)]
    slows = [threading.Thread(target=slow_call, args=(i,), daemon=True) for i in range(4)]
    for thread in streams:
        thread.start()
    time.sleep(0.5)  # the stream runs on both replicas first
    for thread in slows:
        thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        in_flight = [r.metric("mcp_server_tool_calls_in_flight") for r in cluster.replicas]
        if in_flight[0] >= 1 and sum(in_flight) >= 4:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the slow calls never were in flight on both replicas")

    signalled = time.monotonic()
    victim.process.send_signal(signal.SIGTERM)
    code = victim.process.wait(timeout=GRACE + 5)
    exited = time.monotonic()
    time.sleep(0.5)  # the stream goes on against the survivor alone
    stop_stream.set()
    for thread in streams + slows:
        thread.join(timeout=40)
        assert not thread.is_alive()

    everything = [reply for _, reply in quick] + slow
    broken = [reply for reply in everything if reply.error or reply.status not in (200, 429, 503)]
    assert not broken, broken  # no reset, no 502/504 reached the client
    for reply in everything:
        if reply.status == 200:
            reply.result()
        else:
            assert reply.headers.get("retry-after"), reply
    assert len(slow) == 4
    assert all(reply.status == 200 for reply in slow), slow
    assert all(len(reply.result()["structuredContent"]["steps"]) == 4 for reply in slow)
    on_victim = [reply for reply in slow if reply.replica == victim.address]
    assert on_victim, "no slow call ran on the stopped replica"
    assert code == 0
    assert exited - signalled < GRACE
    assert "Drained: no MCP request in flight" in victim.log.read_text()

    statuses = Counter(reply.status for reply in everything)
    split = Counter(reply.replica for reply in everything if reply.status == 200)
    during = Counter(reply.status for sent, reply in quick if signalled <= sent <= exited)
    # nginx's log: every upstream attempt's status; 502 there is a connection it could not use.
    attempts = Counter(
        status.strip()
        for line in cluster.access_log.read_text().splitlines()
        if "," in line.split('"')[3]
        for status in line.split('"')[3].split(",")[:-1]
    )
    print(
        f"\n[drain] {len(everything)} calls ({len(slow)} slow, {len(quick)} quick): {dict(statuses)} at the client; "
        f"200s by replica {cluster.named(split)}; {len(on_victim)} slow calls on the stopped replica, all complete; "
        f"{sum(during.values())} quick calls sent while it drained: {dict(during)}; "
        f"{sum(r.retried for r in everything)} retried by nginx after upstream {dict(attempts)}; "
        f"exit code {code}, {exited - signalled:.1f} s after SIGTERM"
    )
