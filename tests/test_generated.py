"""Each answer set renders a project that installs, passes its own checks, and serves as the README says."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import answer_sets, free_port, git, load_answers, project_env, render, sh, wait_for_healthz

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=answer_sets())
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rendered project, committed as a user would, with `make setup` run."""
    name: str = request.param
    path = render(tmp_path_factory.mktemp(name) / "project", load_answers(name))
    git("init", "-q", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-qm", "chore: scaffold", cwd=path)
    setup = sh("make", "setup", cwd=path, env=project_env())
    (path / ".setup-output").write_text(setup.stdout)
    return path


def test_make_check_passes_with_no_diff(project: Path) -> None:
    """ruff format --check, ruff check, mypy --strict and the project's tests all pass."""
    sh("make", "check", cwd=project, env=project_env())
    status = git("status", "--porcelain", "--untracked-files=no", cwd=project)
    assert status == "", f"checks changed tracked files:\n{status}"


def assert_make_run_speaks_stdio(project: Path) -> None:
    """A stdio-only project's `make run` answers a handshake and a tool call on stdin/stdout."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "search_notes", "arguments": {"query": "api"}},
        },
    ]
    process = subprocess.Popen(
        ["make", "--silent", "run"],
        cwd=project,
        env=project_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    replies: dict[int, Any] = {}
    try:
        for message in messages:
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
            while "id" in message and message["id"] not in replies:
                # One JSON-RPC message per stdout line; log notifications may come before the reply.
                reply = json.loads(process.stdout.readline())
                if "id" in reply:
                    replies[reply["id"]] = reply
    finally:
        process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()
    assert replies[1]["result"]["protocolVersion"] == "2025-11-25"
    assert replies[2]["result"]["structuredContent"]["notes"][0]["id"] == "n-003"
    assert process.returncode == 0


def test_make_run_serves_what_the_readme_promises(project: Path) -> None:
    """After `make setup`, `make run` serves /mcp (or stdio) and the printed development key works."""
    if recorded_answers(project).get("transports") == "stdio":
        return assert_make_run_speaks_stdio(project)
    port = free_port()
    metrics = {f"{recorded_answers(project)['env_prefix']}OBSERVABILITY__METRICS_PORT": str(free_port())}
    process = subprocess.Popen(
        ["make", "run", f"RUN_ARGS=--port {port}"],
        cwd=project,
        env=project_env() | metrics,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        if not wait_for_healthz(base, seconds=30):
            pytest.fail("make run did not answer /healthz within 30 s")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "tools/call",
            "Mcp-Name": "search_notes",
        }
        # The credential `make setup` printed: an API key, or a token from the development issuer.
        key = re.search(r"^  (mcpk_\S+|eyJ\S+)$", (project / ".setup-output").read_text(), re.MULTILINE)
        if key:
            headers["Authorization"] = f"Bearer {key.group(1)}"
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "search_notes",
                "arguments": {"query": "release"},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        }
        request = urllib.request.Request(f"{base}/mcp", data=json.dumps(body).encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            result = json.loads(response.read())
        assert result["result"]["structuredContent"]["notes"][0]["id"] == "n-001"
        if key:
            del headers["Authorization"]
            request = urllib.request.Request(f"{base}/mcp", data=json.dumps(body).encode(), headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            refused.value.close()
            assert refused.value.code == 401
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def recorded_answers(project: Path) -> dict[str, object]:
    data = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_make_bench_reports_the_ratio_and_worker_scaling(project: Path, tmp_path: Path) -> None:
    """`make bench` runs end to end and reports what its README describes (a smoke run of a few
    seconds per leg: the numbers are the benchmark's business, never asserted by a test)."""
    output = tmp_path / "bench.json"
    args = f"--seconds 2 --warmup 1 --clients 8 --scenarios modern-echo legacy-echo modern-cached --output {output}"
    sh("make", "bench", f"BENCH_ARGS={args}", cwd=project, env=project_env())
    report = json.loads(output.read_text())
    for kind in ("bare", "production"):
        for name, scenario in report[kind]["scenarios"].items():
            assert scenario["requests"] > 0, (kind, name, scenario)
            assert scenario["errors"] == 0, (kind, name, scenario)
        assert report[kind]["idle_rss_mb"] > 0
        assert report[kind]["ready_s"] > 0
    assert set(report["ratio"]) == {"modern-echo", "legacy-echo", "modern-cached"}
    scaling = report["scaling"]
    assert set(scaling["runs"]) == {"1", "2"}
    for run in scaling["runs"].values():
        assert run["requests"] > 0, run
        assert run["errors"] == 0, run
        assert run["metrics_ok"], f"/metrics counted {run['metrics_counted']} calls, the generator {run['requests']}"


def test_make_bench_runs_the_production_stack_on_a_redis_limiter(project: Path, tmp_path: Path) -> None:
    """`--limits redis` starts a private redis-server for the run, points the production stack's
    limiter at it, and stops it after (a smoke run: the numbers are never asserted). Run on the
    answer sets that chose the Redis limiter: the render that option measures."""
    if recorded_answers(project).get("rate_limit_backend") != "redis":
        pytest.skip("this answer set chose the memory limiter")
    output = tmp_path / "bench.json"
    args = f"--seconds 1 --warmup 0.5 --clients 4 --scenarios modern-echo --workers 0 --limits redis --output {output}"
    before = redis_servers()
    sh("make", "bench", f"BENCH_ARGS={args}", cwd=project, env=project_env())
    report = json.loads(output.read_text())
    assert report["limits_backend"] == "redis"
    echo = report["production"]["scenarios"]["modern-echo"]
    assert echo["requests"] > 0, echo
    assert echo["errors"] == 0, echo
    assert echo["cpu_ms_per_call"] > 0
    assert report["redis_commands"] >= echo["requests"]  # every limited call took its buckets in Redis
    assert redis_servers() == before  # the bench's own Redis is gone


def redis_servers() -> set[int]:
    """Pids of the redis-server processes running now."""
    pids = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "redis-server":
                pids.add(int(entry.name))
        except OSError:
            continue
    return pids


def test_the_wheel_ships_the_package_and_no_test_code(project: Path, tmp_path: Path) -> None:
    """`uv build` packages every module of the server and nothing from tests/ or bench/ (the
    probe and conformance fixtures stay out of production)."""
    sh("uv", "build", "--wheel", "--quiet", "--out-dir", str(tmp_path), cwd=project, env=project_env())
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    package = recorded_answers(project).get("package_name") or next((project / "src").iterdir()).name
    modules = sorted(str(p.relative_to(project / "src")) for p in (project / "src").rglob("*.py"))
    assert [m for m in modules if m not in names] == []
    stray = [n for n in names if not n.startswith((f"{package}/", f"{package.replace('_', '-')}"))]
    assert [n for n in stray if ".dist-info/" not in n] == []
    assert not [n for n in names if "fixtures" in n or "probe" in n or n.startswith(("tests/", "bench/"))]
