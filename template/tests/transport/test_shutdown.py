"""Graceful shutdown of the real server: in-flight calls of both eras finish, new ones are refused."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from ..conftest import auth_headers
from ..http_fixtures import MODERN, modern_call
from ..served import served

pytestmark = pytest.mark.slow

GRACE = 8.0
SLOW = {"topic": "drain", "steps": 4, "step_seconds": 0.5}  # 4 x 0.5 s: still running when SIGTERM lands
AUTH = auth_headers()


def modern_request(base: str) -> httpx2.Response:
    headers = {**MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "probe_work", **AUTH}
    return httpx2.post(f"{base}/mcp", json=modern_call("probe_work", SLOW), headers=headers, timeout=30)


def legacy_request(base: str) -> httpx2.Response:
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "probe_work", "arguments": SLOW}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", **AUTH}
    return httpx2.post(f"{base}/mcp", json=body, headers=headers, timeout=30)


def legacy_result(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC answer, one JSON body (nothing was sent before it) or the stream's last event."""
    if response.headers["content-type"].startswith("application/json"):
        return dict(response.json())
    data = [line.removeprefix("data:") for line in response.text.splitlines() if line.startswith("data:")]
    message: dict[str, Any] = json.loads(data[-1])
    return message


def wait_in_flight(metrics: str, count: int) -> None:
    """Until the server reports `count` tool calls running (its own gauge), for at most 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = httpx2.get(f"{metrics}/metrics", timeout=2).text
        line = next((ln for ln in text.splitlines() if ln.startswith("mcp_server_tool_calls_in_flight ")), "x 0")
        if float(line.split()[1]) >= count:
            return
        time.sleep(0.02)
    pytest.fail(f"the server never had {count} tool calls in flight")


def in_background(target: Any, base: str) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["response"] = target(base)
        except httpx2.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_sigterm_lets_in_flight_calls_of_both_eras_finish(tmp_path: Path) -> None:
    """Both slow calls return their reports, a new call is refused, and the process exits 0 in time."""
    settings = {"HTTP__GRACEFUL_SHUTDOWN_SECONDS": str(GRACE)}
    with served(tmp_path, **settings) as server:
        modern, modern_outcome = in_background(modern_request, server.base)
        legacy, legacy_outcome = in_background(legacy_request, server.base)
        wait_in_flight(server.metrics, 2)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        try:
            late = modern_request(server.base).status_code
        except httpx2.TransportError:
            late = 0  # the listener is closed: refused at the TCP level
        modern.join(timeout=GRACE + 5)
        legacy.join(timeout=GRACE + 5)
        code = server.process.wait(timeout=GRACE + 5)
        elapsed = time.monotonic() - signalled
    assert "error" not in modern_outcome, modern_outcome
    assert "error" not in legacy_outcome, legacy_outcome
    assert len(modern_outcome["response"].json()["result"]["structuredContent"]["steps"]) == 4
    assert len(legacy_result(legacy_outcome["response"])["result"]["structuredContent"]["steps"]) == 4
    assert late in (0, 503)
    assert code == 0
    assert elapsed < GRACE + 1
    log = server.log.read_text()
    assert "Drained: no MCP request in flight" in log


def test_a_second_signal_forces_exit(tmp_path: Path) -> None:
    """An operator who signals twice gets the process back at once (exit 1: work was cut)."""
    settings = {"SERVICES__REPORT_STEP_SECONDS": "1", "HTTP__GRACEFUL_SHUTDOWN_SECONDS": "30"}
    with served(tmp_path, **settings) as server:
        in_background(modern_request, server.base)
        wait_in_flight(server.metrics, 1)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=10)
    assert code == 1
    assert time.monotonic() - started < 5


def test_an_idle_stream_does_not_hold_the_drain(tmp_path: Path) -> None:
    """With a legacy GET stream open and no call in flight, SIGTERM exits in about a second, not
    the whole grace period (a stream counted as work once held it for 19.7 s)."""
    legacy = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", **AUTH}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
    with served(tmp_path, HTTP__GRACEFUL_SHUTDOWN_SECONDS=str(GRACE), HTTP__STATELESS_LEGACY="false") as server:
        opened = httpx2.post(f"{server.base}/mcp", json=init, headers=legacy, timeout=10)
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        stream_headers = {**AUTH, **session, "Accept": "text/event-stream"}

        def listen(base: str) -> httpx2.Response:
            with httpx2.stream("GET", f"{base}/mcp", headers=stream_headers, timeout=GRACE + 5) as response:
                response.read()
                return response

        stream, _outcome = in_background(listen, server.base)
        time.sleep(0.5)  # the stream is open and idle
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=GRACE + 5)
        elapsed = time.monotonic() - signalled
        stream.join(timeout=5)
    assert code == 0
    assert elapsed < 3, f"the idle stream held the drain for {elapsed:.1f} s"
    assert "Drained: no MCP request in flight" in server.log.read_text()
