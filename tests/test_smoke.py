"""`smoke` against a live rendered server over real sockets: it passes with the right key, and
fails with a clear one-line reason for a wrong key, a server that is down, and another canary."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import free_port, load_answers, project_env, render, sh, wait_for_healthz

pytestmark = pytest.mark.slow

SLUG, PREFIX = "notes-mcp", "NOTES_MCP_"  # what the default answers (project_name: Notes MCP) derive
KEY = "mcpk_" + secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = render(tmp_path_factory.mktemp("smoke") / "project", load_answers("default"))
    sh("uv", "sync", "--quiet", cwd=path, env=project_env())
    return path


def server_env(prefix: str, **extra: str) -> dict[str, str]:
    entry = {"id": "smoke", "sha256": hashlib.sha256(KEY.encode()).hexdigest(), "scopes": []}
    return project_env(prefix) | {
        f"{prefix}AUTH__MODE": "api_key",
        f"{prefix}AUTH__API_KEYS": json.dumps([entry]),
        f"{prefix}OBSERVABILITY__AUDIT_SINK": "off",
        **{f"{prefix}{name}": value for name, value in extra.items()},
    }


@contextmanager
def serving(project: Path, **extra: str) -> Iterator[tuple[str, str]]:
    """The render's server on free ports (its own process group, logging to a file): base and metrics URLs."""
    prefix = PREFIX
    port, metrics_port = free_port(), free_port()
    env = server_env(prefix, OBSERVABILITY__METRICS_PORT=str(metrics_port), **extra)
    log = project.parent / f"server-{port}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            ["uv", "run", SLUG, "serve", "--transport", "http", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_healthz(base, seconds=60, process=process):
            pytest.fail(f"the server did not start:\n{log.read_text()[-4000:]}")
        yield base, f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def smoke(project: Path, *args: str, key: str = KEY) -> subprocess.CompletedProcess[str]:
    env = project_env() | {"MCP_KEY": key}
    return subprocess.run(
        ["uv", "run", SLUG, "smoke", *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def test_smoke_passes_against_a_live_server_with_the_right_key(project: Path) -> None:
    with serving(project) as (base, metrics):
        done = smoke(project, "--url", base, "--metrics-url", metrics)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * 8, done.stdout
    assert "401 without a credential" in lines[2]
    assert "resource and tool agree on the phrase; marker echoed" in lines[5]
    assert "an invalid argument came back isError" in lines[6]
    assert "counted 2 canary calls, 1 error" in lines[7]
    assert lines[-1] == f"smoke passed: 8 ok, 0 skipped, against {base}"
    assert KEY not in done.stdout + done.stderr


def test_smoke_fails_clearly_for_a_wrong_key_another_canary_and_a_server_that_is_down(project: Path) -> None:
    with serving(project, CANARY__PHRASE="Someone else's server entirely.") as (base, metrics):
        wrong = smoke(project, "--url", base, key="mcpk_" + "w" * 43)
        other = smoke(project, "--url", base, "--metrics-url", metrics)
    assert wrong.returncode == 1
    assert wrong.stdout.splitlines()[-1].startswith(
        "smoke FAILED at tools/list 2026-07-28: tools/list was refused (401)"
    )
    assert other.returncode == 1
    assert other.stdout.splitlines()[-1].startswith("smoke FAILED at canary round trip: canary://phrase reads")
    assert "pass --phrase" in other.stdout
    down = smoke(project, "--url", base)  # the server above has stopped
    assert down.returncode == 1
    assert down.stdout.splitlines()[-1].startswith(f"smoke FAILED at healthz: {base} unreachable: ConnectError")
    assert KEY not in wrong.stdout + other.stdout + down.stdout


def test_make_smoke_passes_the_key_through_the_environment(project: Path) -> None:
    with serving(project) as (base, metrics):
        env = {k: v for k, v in project_env().items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
        done = subprocess.run(
            ["make", "smoke", f"URL={base}", f"KEY={KEY}", f"METRICS_URL={metrics}"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke passed: 8 ok, 0 skipped" in done.stdout
    assert KEY not in done.stdout + done.stderr
