"""The rendered project's container image, built with podman and run as production runs it.

One answer set (default: Streamable HTTP and stdio, API keys). The build is hermetic: the base is a
Debian bookworm debootstrapped here (`ARG PYTHON_IMAGE`), uv comes from PyPI's `uv` wheel in a tiny
local image (`ARG UV_IMAGE`), and every package comes from a uv cache filled from the lockfile
before the build, which then runs with `--network none`. The container runs non-root, read-only,
with dumb-init as PID 1; it must answer /healthz and its HEALTHCHECK, serve MCP over HTTP in both
protocol eras and over `podman run -i` stdio, and stop on SIGTERM with exit code 0.

Everything slow (the base tarball, the uv binary, the uv cache, podman's storage with its layer
cache) is kept under .cache/image/, so a second run is fast. Needs root, podman, runc and
debootstrap (.ci/run installs them): skipped without them, failed in CI (CI=true).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import ROOT, free_port, load_answers, project_env, render, wait_for_healthz

pytestmark = [pytest.mark.slow, pytest.mark.container]

ANSWERS = "default"
CACHE = ROOT / ".cache" / "image"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "ca-certificates")
IMAGE = "localhost/copier-mcp-image-test:latest"
UID = "10001"
INIT = "dumb-init"
SCRATCH = "/tmp"  # noqa: S108 - the container's tmpfs, the only writable path under --read-only

# Mounted into the builder stage only (first build phase): uv uses the pre-filled cache and never
# the network. The final image is built in a second phase without these mounts, from the builder's
# cached layers, so no mount point is left behind in it.
UV_OFFLINE_TOML = 'offline = true\ncache-dir = "/uv-cache"\n'

CLIENT = r"""
import json, os, sys
import anyio, httpx2
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

target, argument = sys.argv[1], sys.argv[2]  # URL and API key, or "stdio" and the command as JSON

async def session(mode):
    if target.startswith("http"):
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {argument}"}, timeout=15)
        async with http, Client(streamable_http_client(target, http_client=http), mode=mode) as client:
            return await use(client)
    command = json.loads(argument)
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    with open(sys.argv[3], "a") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            return await use(client)

async def use(client):
    tools = await client.list_tools()
    result = {"protocol_version": client.protocol_version, "tools": sorted(t.name for t in tools.tools)}
    if "search_notes" in result["tools"]:
        call = await client.call_tool("search_notes", {"query": "onboarding"})
        result["is_error"] = call.is_error
        result["structured"] = call.structured_content
    return result

async def main():
    report = {}
    for mode in ("auto", "legacy"):
        with anyio.fail_after(60):
            report[mode] = await session(mode)
    print(json.dumps(report))

anyio.run(main)
"""


@dataclass
class Built:
    project: Path
    env_prefix: str
    key: str
    key_entry: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)


def run(
    *cmd: str | Path, timeout: float, env: dict[str, str] | None = None, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command with a deadline; on failure raise with the tail of its output."""
    args = [str(c) for c in cmd]
    try:
        result = subprocess.run(args, cwd=cwd, env=env, text=True, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(args)} timed out after {timeout} s") from exc
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode})\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def missing_tools() -> list[str]:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root (debootstrap and podman's storage here need it)")
    return missing


def debian_mirror() -> str:
    """The Debian mirror apt already uses (or DEBIAN_MIRROR): debootstrap fetches from the same place."""
    if os.environ.get("DEBIAN_MIRROR"):
        return os.environ["DEBIAN_MIRROR"]
    apt = Path("/etc/apt")
    for path in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.MULTILINE))
                if SUITE in fields.get("Suites", "").split() and fields.get("URIs"):
                    return fields["URIs"].split()[0]
        else:
            for line in text.splitlines():
                match = re.match(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
                if match and match.group(2) == SUITE:
                    return match.group(1)
    pytest.fail(f"no apt source for Debian {SUITE} found; set DEBIAN_MIRROR")


def clean_env() -> dict[str, str]:
    """The environment minus the template's venv, pytest's and every uv variable (the image's uv is pinned)."""
    return project_env("UV_")


@pytest.fixture(scope="module")
def podman_env() -> Iterator[dict[str, str]]:
    """podman configured for this machine (runc, cgroupfs, no systemd), storage under .cache/image."""
    missing = missing_tools()
    if missing:
        message = f"container image tests need {', '.join(missing)} (see .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    conf = CACHE / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{conf / "storage"}"\nrunroot = "{conf / "run"}"\n'
    )
    # crun cannot run with cgroups v1 in hybrid mode; the default rlimits need CAP_SYS_RESOURCE.
    (conf / "containers.conf").write_text(
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
    )
    env = clean_env()
    env["CONTAINERS_STORAGE_CONF"] = str(conf / "storage.conf")
    env["CONTAINERS_CONF"] = str(conf / "containers.conf")
    # One run at a time per checkout: the storage and caches below are shared.
    with (CACHE / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield env
        # Images left untagged by earlier runs; the layers of the current build stay (warm cache).
        run("podman", "image", "prune", "-f", env=env, timeout=120, check=False)


def podman(env: dict[str, str], *args: str | Path, timeout: float = 60, check: bool = True) -> str:
    return run("podman", *args, env=env, timeout=timeout, check=check).stdout.strip()


def image_exists(env: dict[str, str], name: str) -> bool:
    return run("podman", "image", "exists", name, env=env, timeout=30, check=False).returncode == 0


def base_image(env: dict[str, str]) -> str:
    """Debian bookworm with Python (the stand-in for python:X-slim-bookworm): debootstrap, once."""
    digest = hashlib.sha256(" ".join((SUITE, *BASE_PACKAGES)).encode()).hexdigest()[:12]
    tag = f"localhost/copier-mcp-base:{SUITE}-{digest}"
    if image_exists(env, tag):
        return tag
    tarball = CACHE / f"base-{SUITE}-{digest}.tar"
    if not tarball.exists():
        rootfs = CACHE / f"rootfs-{os.getpid()}"
        shutil.rmtree(rootfs, ignore_errors=True)
        try:
            include = f"--include={','.join(BASE_PACKAGES)}"
            run("debootstrap", "--variant=minbase", include, SUITE, rootfs, debian_mirror(), timeout=480)
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for path in (rootfs / leftover).glob("*"):
                    if path.is_file():
                        path.unlink()
            partial = tarball.with_suffix(".partial")
            run("tar", "-C", rootfs, "--numeric-owner", "-cf", partial, ".", timeout=120)
            partial.rename(tarball)
        finally:
            shutil.rmtree(rootfs, ignore_errors=True)
    # What the official python images set, so `${PATH}` in the Dockerfile expands as it does there.
    changes = (
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["python3"]',
    )
    podman(env, "import", *(arg for change in changes for arg in ("--change", change)), tarball, tag, timeout=180)
    return tag


def uv_binary(version: str) -> Path:
    """The uv the Dockerfile pins, from PyPI's `uv` wheel (which carries the binary)."""
    target = CACHE / f"uv-{version}"
    binary = target / "bin" / "uv"
    if not binary.exists():
        uv = shutil.which("uv")
        assert uv, "uv is needed to fetch the pinned uv wheel"
        install = ("pip", "install", "--quiet", "--python", sys.executable, "--target", target, f"uv=={version}")
        run(uv, *install, env=clean_env(), timeout=180)
    assert binary.exists(), f"the uv {version} wheel has no bin/uv"
    return binary


def uv_image(env: dict[str, str], binary: Path, version: str) -> str:
    """A scratch image holding /uv, standing in for ghcr.io/astral-sh/uv."""
    tag = f"localhost/copier-mcp-uv:{version}"
    if not image_exists(env, tag):
        context = CACHE / f"uv-image-{version}"
        context.mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, context / "uv")
        (context / "Containerfile").write_text("FROM scratch\nCOPY uv /uv\n")
        podman(env, "build", "--network", "none", "--quiet", "-t", tag, context, timeout=120)
    return tag


def build_log_cache_hits(output: str) -> int:
    return output.count("--> Using cache")


@pytest.fixture(scope="module")
def built(podman_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Render, lock, pre-fill the uv cache, then build the image with no network; report the metrics."""
    started = time.monotonic()
    project = render(tmp_path_factory.mktemp("image") / "project", load_answers(ANSWERS))
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    dockerfile = (project / "Dockerfile").read_text()
    uv_version = re.search(
        r"^ARG UV_IMAGE=ghcr\.io/astral-sh/uv:([0-9.]+)@sha256:[0-9a-f]{64}$", dockerfile, re.MULTILINE
    )
    assert uv_version, "the Dockerfile pins uv by version and digest in ARG UV_IMAGE"
    version = uv_version.group(1)

    uv = uv_binary(version)
    base = base_image(podman_env)
    uv_tag = uv_image(podman_env, uv, version)
    prepared = time.monotonic()

    # Lock and sync with the image's own uv, so the cache it reads inside the build is its format.
    # The synced environment (runtime dependencies and the `mcp` client) also drives the tests.
    uv_cache = CACHE / f"uv-cache-{version}"
    uv_env = {
        **clean_env(),
        "UV_CACHE_DIR": str(uv_cache),
        "UV_PROJECT_ENVIRONMENT": str(project / ".venv"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
    }
    run(uv, "lock", cwd=project, env=uv_env, timeout=300)
    sync = ("sync", "--locked", "--no-dev", "--group", "container", "--no-editable")  # what the image installs
    run(uv, *sync, cwd=project, env=uv_env, timeout=300)
    offline_toml = CACHE / "uv-offline.toml"
    offline_toml.write_text(UV_OFFLINE_TOML)
    locked = time.monotonic()

    build = ("build", "--network", "none", "--pull=never", "--format", "docker")  # OCI would drop HEALTHCHECK
    build += ("--build-arg", f"PYTHON_IMAGE={base}", "--build-arg", f"UV_IMAGE={uv_tag}")
    hermetic = ("--volume", f"{uv_cache}:/uv-cache", "--volume", f"{offline_toml}:/etc/uv/uv.toml:ro")
    builder = (*build, "--target", "builder", *hermetic, "-t", f"{IMAGE}-builder", project)
    phase_builder = run("podman", *builder, env=podman_env, timeout=420)
    built_builder = time.monotonic()
    # Same instructions and context: the builder stage comes from the layer cache (were it rebuilt,
    # uv would have no network and no offline cache here, and this build would fail).
    run("podman", *build, "-t", IMAGE, project, env=podman_env, timeout=300)
    finished = time.monotonic()

    size = int(podman(podman_env, "image", "inspect", "--format", "{{.Size}}", IMAGE))
    base_size = int(podman(podman_env, "image", "inspect", "--format", "{{.Size}}", base))
    metrics = {
        "answers": ANSWERS,
        "image_bytes": size,
        "image_mb": round(size / 1e6, 1),
        "base_mb": round(base_size / 1e6, 1),
        "added_by_dockerfile_mb": round((size - base_size) / 1e6, 1),
        "prepare_seconds": round(prepared - started, 1),
        "lock_and_fill_cache_seconds": round(locked - prepared, 1),
        "build_seconds": round(finished - locked, 1),
        "build_builder_stage_seconds": round(built_builder - locked, 1),
        "build_final_stage_seconds": round(finished - built_builder, 1),
        # 0 on a cold build (empty layer cache); every step on a warm one.
        "builder_stage_cache_hits": build_log_cache_hits(phase_builder.stdout),
    }
    secret = podman(podman_env, "run", "--rm", "--network", "none", IMAGE, "gen-key", "--id", "image-test")
    key = re.search(r"^  (\S+)$", secret, re.MULTILINE)
    entry = re.search(r"^  (\{.*\})$", secret, re.MULTILINE)
    scopes = re.search(r"^Scopes the tools use: (.*)\.$", secret, re.MULTILINE)
    assert key, secret
    assert entry, secret
    assert scopes, secret
    key_entry = json.loads(entry.group(1))
    key_entry["scopes"] = [s for s in scopes.group(1).split(", ") if s != "none"]
    result = Built(project, answers["env_prefix"], key.group(1), key_entry, metrics)
    yield result
    report = project.parent / "image-metrics.json"
    report.write_text(json.dumps(result.metrics, indent=2) + "\n")
    print(f"\nimage metrics ({report}):\n{json.dumps(result.metrics, indent=2)}")


@dataclass
class Running:
    name: str
    base: str
    started_seconds: float


def start(env: dict[str, str], built: Built, name: str) -> Running:
    """The image as production runs it: read-only root, tmpfs /tmp, API keys from the environment.

    Host networking with the server bound to 127.0.0.1: the test never leaves loopback.
    """
    port = free_port()
    p = built.env_prefix
    began = time.monotonic()
    podman(
        env,
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        f"{SCRATCH}:rw,size=64m",
        "-e",
        f"{p}HTTP__HOST=127.0.0.1",
        "-e",
        f"{p}HTTP__PORT={port}",
        "-e",
        f"{p}OBSERVABILITY__METRICS_PORT={free_port()}",  # host networking: not the shared 9464
        "-e",
        f"{p}AUTH__API_KEYS={json.dumps([built.key_entry])}",
        "-e",
        f"{p}STATE__REQUEST_STATE_SECRET={secrets.token_hex(32)}",  # production requires one
        IMAGE,
    )
    base = f"http://127.0.0.1:{port}"
    if wait_for_healthz(base, seconds=30):
        return Running(name, base, round(time.monotonic() - began, 2))
    logs = run("podman", "logs", name, env=env, timeout=30, check=False)
    pytest.fail(f"the container did not answer /healthz within 30 s\n{logs.stdout[-4000:]}{logs.stderr[-4000:]}")


def remove(env: dict[str, str], name: str) -> None:
    run("podman", "rm", "-f", "-t", "0", name, env=env, timeout=60, check=False)


@pytest.fixture(scope="module")
def server(podman_env: dict[str, str], built: Built) -> Iterator[Running]:
    name = f"copier-mcp-image-test-{os.getpid()}"
    remove(podman_env, name)
    try:
        running = start(podman_env, built, name)
        built.metrics["seconds_to_healthy"] = running.started_seconds
        yield running
    finally:
        remove(podman_env, name)


def exec_in(env: dict[str, str], name: str, *cmd: str) -> str:
    return podman(env, "exec", name, *cmd, timeout=30)


def test_the_server_runs_as_uid_10001_under_dumb_init(podman_env: dict[str, str], server: Running) -> None:
    """PID 1 is the init, the server is its child, every process is UID 10001, no build tool is left."""
    assert podman(podman_env, "image", "inspect", "--format", "{{.Config.User}}", IMAGE) == f"{UID}:{UID}"
    assert exec_in(podman_env, server.name, "id", "-u") == UID
    assert exec_in(podman_env, server.name, "cat", "/proc/1/comm") == INIT
    table = exec_in(podman_env, server.name, "sh", "-c", "grep -H '^Uid:\\|^PPid:' /proc/[0-9]*/status")
    uids = {line.split(":")[0]: line.split()[1] for line in table.splitlines() if "Uid:" in line}
    assert uids, table
    assert set(uids.values()) == {UID}, table
    assert "/proc/1/status:PPid:\t0" in table
    cmdline = exec_in(podman_env, server.name, "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline")
    assert cmdline.split()[-1] == "serve", cmdline  # dumb-init ... -- <project> serve
    leftovers = exec_in(podman_env, server.name, "sh", "-c", "ls -d /usr/local/bin/uv /uv-cache /etc/uv 2>&1 || true")
    assert leftovers.count("No such file") == 3, leftovers


def test_orphans_are_reaped(podman_env: dict[str, str], server: Running) -> None:
    """A process orphaned inside the container is reaped by PID 1 instead of staying a zombie."""
    exec_in(podman_env, server.name, "sh", "-c", "sleep 0.3 & exit 0")
    deadline = time.monotonic() + 10
    while True:
        states = exec_in(podman_env, server.name, "sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null || true")
        zombies = [line for line in states.splitlines() if re.match(r"^\d+ \(.*\) Z ", line)]
        sleeping = [line for line in states.splitlines() if "(sleep)" in line]
        if not zombies and not sleeping:
            return
        assert time.monotonic() < deadline, f"not reaped within 10 s:\n{states}"
        time.sleep(0.3)


def test_the_root_filesystem_is_read_only(podman_env: dict[str, str], server: Running) -> None:
    """Nothing is written outside the tmpfs, and the server does not need to."""
    probe = run("podman", "exec", server.name, "touch", "/app/probe", env=podman_env, timeout=30, check=False)
    assert probe.returncode != 0
    assert "Read-only file system" in probe.stderr
    exec_in(podman_env, server.name, "touch", f"{SCRATCH}/probe")


def test_healthz_and_the_image_healthcheck(podman_env: dict[str, str], server: Running) -> None:
    """/healthz answers 200 and the image's own HEALTHCHECK passes (it follows the configured port)."""
    with urllib.request.urlopen(f"{server.base}/healthz", timeout=5) as response:
        assert response.status == 200
    assert run("podman", "healthcheck", "run", server.name, env=podman_env, timeout=30, check=False).returncode == 0


def mcp_client(built: Built, env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run CLIENT with the rendered project's environment (its `mcp` SDK client)."""
    python = built.project / ".venv" / "bin" / "python"
    result = run(python, "-c", CLIENT, *args, cwd=built.project, env=env, timeout=180)
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_mcp_over_http_in_both_eras(built: Built, server: Running) -> None:
    """The SDK client lists and calls tools with the API key: 2026-07-28 (auto) and 2025-11-25 (legacy)."""
    report = mcp_client(built, clean_env(), f"{server.base}/mcp", built.key)
    assert report["auto"]["protocol_version"] == "2026-07-28"
    assert report["legacy"]["protocol_version"] == "2025-11-25"
    for mode in ("auto", "legacy"):
        assert "search_notes" in report[mode]["tools"], report
        assert report[mode]["is_error"] is False, report
        assert report[mode]["structured"]["notes"][0]["id"] == "n-005", report


def test_mcp_over_http_without_a_key_is_refused(server: Running) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    request = urllib.request.Request(f"{server.base}/mcp", data=json.dumps(body).encode(), headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 401


def test_mcp_over_stdio_with_podman_run_i(podman_env: dict[str, str], built: Built, tmp_path: Path) -> None:
    """`podman run -i --rm --network none IMAGE serve --transport stdio` speaks MCP on stdin/stdout."""
    name = f"copier-mcp-image-stdio-{os.getpid()}"
    command = ["podman", "run", "-i", "--rm", "--network", "none", "--read-only", "--tmpfs", SCRATCH]
    command += ["--name", name, IMAGE, "serve", "--transport", "stdio"]
    errlog = tmp_path / "stdio-stderr.log"
    try:
        report = mcp_client(built, podman_env, "stdio", json.dumps(command), str(errlog))
    finally:
        remove(podman_env, name)
    assert report["auto"]["protocol_version"] == "2026-07-28"
    assert report["legacy"]["protocol_version"] == "2025-11-25"
    for mode in ("auto", "legacy"):
        assert "search_notes" in report[mode]["tools"], report
        assert report[mode]["structured"]["notes"][0]["id"] == "n-005", report


def test_sigterm_stops_the_container_with_exit_code_0(podman_env: dict[str, str], built: Built) -> None:
    """`podman stop` (SIGTERM to dumb-init, passed to the server) ends it cleanly well within the grace."""
    name = f"copier-mcp-image-stop-{os.getpid()}"
    remove(podman_env, name)
    try:
        start(podman_env, built, name)
        began = time.monotonic()
        podman(podman_env, "stop", "-t", "30", name, timeout=60)
        elapsed = time.monotonic() - began
        assert podman(podman_env, "inspect", "--format", "{{.State.ExitCode}}", name) == "0"
        assert elapsed < 20, f"took {elapsed:.1f} s: SIGTERM did not reach the server"
        logs = run("podman", "logs", name, env=podman_env, timeout=30)
        assert "Finished server process" in logs.stdout + logs.stderr
        built.metrics["stop_seconds"] = round(elapsed, 2)
        print(f"\nSIGTERM to exit 0 in {elapsed:.2f} s")
    finally:
        remove(podman_env, name)
