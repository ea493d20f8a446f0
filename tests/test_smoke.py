"""`smoke` against a live rendered server over real sockets: it passes with the right key, and
fails with a clear one-line reason for a wrong key, a server that is down, and another canary."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import yaml

from .conftest import free_port, load_answers, project_env, render, serving_render, sh

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
        f"{prefix}STATE__REQUEST_STATE_SECRET": secrets.token_hex(32),  # production serves HTTP only with one
        **{f"{prefix}{name}": value for name, value in extra.items()},
    }


@contextmanager
def serving(project: Path, **extra: str) -> Iterator[tuple[str, str]]:
    """The render's server with the smoke key and `extra` settings: base and metrics URLs."""
    with serving_render(project, server_env(PREFIX, **extra)) as urls:
        yield urls


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


def stop_group(pid: int) -> None:
    """SIGTERM the process group of `pid`, then SIGKILL it if it is still there after 30 s."""
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            os.killpg(pid, 0)  # raises once the group is gone
            time.sleep(0.2)
        os.killpg(pid, signal.SIGKILL)


DOCKER_SHIM = r'''#!/usr/bin/env python3
"""`docker` for the CI smoke step: `run IMAGE ARGS` runs the render's command line instead."""
import os, subprocess, sys

project, slug, prefix, state = (os.environ[f"SHIM_{name}"] for name in ("PROJECT", "SLUG", "PREFIX", "STATE"))
args = sys.argv[1:]
if args[0] == "logs":
    sys.stdout.write(open(os.path.join(state, "server.log")).read())
    sys.exit(0)
assert args[0] == "run", args
args, env, detach, i = args[1:], {}, False, 0
while args[i].startswith("-"):
    flag = args[i]
    if flag in ("--rm", "-d"):
        detach = detach or flag == "-d"
        i += 1
        continue
    value = args[i + 1]
    if flag == "--env-file":
        for line in open(value):
            if line.strip() and not line.startswith("#"):
                name, _, text = line.strip().partition("=")
                env[name] = text
    elif flag == "-e":
        name, equals, text = value.partition("=")
        env[name] = text if equals else os.environ.get(name, "")
    elif flag not in ("--name", "-p", "--network"):
        sys.exit(f"docker shim: unknown flag {flag}")
    i += 2
command = ["uv", "run", "--directory", project, slug, *(args[i + 1:] or ["serve"])]
if not detach:
    sys.exit(subprocess.call(command, env={**os.environ, **env}))
# The image's environment, on the test's free ports instead of 8000 and 9464.
image_env = {
    f"{prefix}ENVIRONMENT": "production",
    f"{prefix}HTTP__HOST": "127.0.0.1",
    f"{prefix}HTTP__PORT": os.environ["SHIM_PORT"],
    f"{prefix}OBSERVABILITY__METRICS_PORT": os.environ["SHIM_METRICS_PORT"],
}
with open(os.path.join(state, "server.log"), "wb") as log:
    process = subprocess.Popen(
        command, env={**os.environ, **image_env, **env}, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
    )
open(os.path.join(state, "pid"), "w").write(str(process.pid))
print("0123456789ab")
'''


def test_the_rendered_ci_smoke_step_passes_against_the_image_it_started(project: Path, tmp_path: Path) -> None:
    """The workflow's "Smoke test" step, run verbatim (docker replaced by a shim that runs the render):
    it makes a key, starts the server with it, and the image's `smoke` passes every check."""
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    run = next(step for step in workflow["jobs"]["image"]["steps"] if step.get("name") == "Smoke test")["run"]
    port, metrics_port = free_port(), free_port()
    script = run.replace("${{ github.sha }}", "sha").replace(":8000", f":{port}").replace(":9464", f":{metrics_port}")
    shim = tmp_path / "bin" / "docker"
    shim.parent.mkdir()
    shim.write_text(DOCKER_SHIM)
    shim.chmod(0o755)
    env = project_env(PREFIX) | {
        "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
        "SHIM_PROJECT": str(project),
        "SHIM_SLUG": SLUG,
        "SHIM_PREFIX": PREFIX,
        "SHIM_STATE": str(tmp_path),
        "SHIM_PORT": str(port),
        "SHIM_METRICS_PORT": str(metrics_port),
        f"{PREFIX}OBSERVABILITY__METRICS_PORT": str(metrics_port),  # where smoke looks, as in the image
    }
    try:
        done = subprocess.run(
            ["bash", "-e", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=240
        )
    finally:
        if (tmp_path / "pid").exists():
            stop_group(int((tmp_path / "pid").read_text()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "smoke passed: 8 ok, 0 skipped" in done.stdout, done.stdout
    key = next(word for word in done.stdout.split() if word.startswith("::add-mask::mcpk_"))
    assert done.stdout.count(key.removeprefix("::add-mask::")) == 1  # only GitHub's mask command sees it
