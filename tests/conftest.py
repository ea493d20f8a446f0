"""Template test harness: git isolated from the developer, a committed candidate clone, render helpers."""

from __future__ import annotations

# Git must be isolated before copier is imported: plumbum captures the environment at import.
import atexit
import contextlib
import os
import tempfile
from pathlib import Path

_fd, _gitconfig = tempfile.mkstemp(prefix="copier-tests-gitconfig-")
os.close(_fd)
atexit.register(os.unlink, _gitconfig)
Path(_gitconfig).write_text(
    "[user]\n\tname = Template Tests\n\temail = tests@example.invalid\n"
    "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
    "[safe]\n\tdirectory = *\n"
)
os.environ["GIT_CONFIG_GLOBAL"] = _gitconfig
os.environ["GIT_CONFIG_NOSYSTEM"] = "1"

import functools  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import copier  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ANSWERS_DIR = ROOT / "tests" / "answers"
CANDIDATE = "999.0.0"
"""Tag of the working tree's state in the throwaway clone; PEP 440-greater than every release."""


def sh(*cmd: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output."""
    result = subprocess.run(cmd, cwd=cwd, text=True, capture_output=True, check=False, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}) in {cwd}\n"
            f"--- stdout\n{result.stdout[-8000:]}\n--- stderr\n{result.stderr[-8000:]}"
        )
    return result


def git(*args: str, cwd: Path) -> str:
    return sh("git", *args, cwd=cwd).stdout.strip()


RELEASES = ROOT / "tests" / "releases.txt"
"""`vX.Y.Z <commit>` per release: tags restored from here when a checkout came without them."""
SYNTHETIC_PREVIOUS = "v0.0.0"
"""Tag of a made-up release just before the candidate, for a checkout with no release history."""


def release_tags(repo: Path) -> list[str]:
    """Release tags in `repo`, newest first."""
    return sh("git", "tag", "--list", "v*", "--sort=-v:refname", cwd=repo, check=False).stdout.split()


def _restore_release_tags(dst: Path) -> None:
    """CI checkouts often carry no tags, or only some: fetch them from origin, then tag every commit
    RELEASES names whose tag is still missing (a checkout holding only the newest release tag
    would otherwise test no update from any older one)."""
    origin = sh("git", "remote", "get-url", "origin", cwd=ROOT, check=False).stdout.strip()
    if origin and not release_tags(dst):
        quiet = os.environ | {"GIT_TERMINAL_PROMPT": "0"}
        with contextlib.suppress(subprocess.TimeoutExpired):  # an unreachable origin: use RELEASES
            subprocess.run(
                ["git", "fetch", "--quiet", "--tags", origin],
                cwd=dst,
                env=quiet,
                capture_output=True,
                timeout=60,
                check=False,
            )
    present = set(release_tags(dst))
    for line in RELEASES.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        tag, commit = line.split()
        if tag in present:
            continue
        if sh("git", "cat-file", "-e", f"{commit}^{{commit}}", cwd=dst, check=False).returncode == 0:
            git("tag", tag, commit, cwd=dst)


def _copy_working_tree(dst: Path) -> None:
    """Replace `dst`'s files with the working tree's (deletions and uncommitted edits included)."""
    sh("git", "rm", "-rq", "--ignore-unmatch", ".", cwd=dst)
    files = git("ls-files", "-co", "--exclude-standard", "-z", cwd=ROOT).split("\0")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file() or src.is_symlink():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel, follow_symlinks=False)


def _commit_synthetic_previous(dst: Path) -> None:
    """A release that differs from the candidate in one template-owned file (the Makefile's first
    line), so an update from it has something to apply and a user's edit there conflicts."""
    makefile = dst / "template" / "Makefile.jinja"
    makefile.write_text("# A release before this one.\n" + makefile.read_text())
    git("add", "-A", cwd=dst)
    git("commit", "--quiet", "-m", "test: synthetic previous release", cwd=dst)
    git("tag", SYNTHETIC_PREVIOUS, cwd=dst)


@functools.cache
def template_repo() -> Path:
    """Clone this repo with its release tags, overlay the working tree, tag the candidate.

    Without any release in reach (a shallow checkout), a synthetic previous release is committed
    first so that update paths are still tested."""
    dst = Path(tempfile.mkdtemp(prefix="tpl-")) / "repo"
    atexit.register(shutil.rmtree, dst.parent, ignore_errors=True)
    has_history = (ROOT / ".git").exists() and sh(
        "git", "rev-parse", "--verify", "-q", "HEAD", cwd=ROOT, check=False
    ).stdout
    # A clone of a shallow checkout is shallow too, which copier refuses: start a fresh history then.
    if has_history and git("rev-parse", "--is-shallow-repository", cwd=ROOT) == "false":
        git("clone", "--quiet", "--no-hardlinks", str(ROOT), str(dst), cwd=ROOT)
        _restore_release_tags(dst)
    else:
        dst.mkdir(parents=True)
        git("init", "-q", cwd=dst)
    if not release_tags(dst):
        _copy_working_tree(dst)
        _commit_synthetic_previous(dst)
    _copy_working_tree(dst)
    git("add", "-A", cwd=dst)
    git("commit", "--quiet", "--allow-empty", "-m", "test: candidate", cwd=dst)
    git("tag", CANDIDATE, cwd=dst)
    return dst


def answer_sets() -> list[str]:
    return sorted(p.stem for p in ANSWERS_DIR.glob("*.yml"))


def load_answers(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ANSWERS_DIR / f"{name}.yml").read_text())
    assert isinstance(data, dict)
    return data


def render(dst: Path, data: dict[str, Any], *, ref: str = CANDIDATE) -> Path:
    """Render the template into `dst` with `data` (other questions take their defaults)."""
    copier.run_copy(
        str(template_repo()), dst, data=data, vcs_ref=ref, defaults=True, unsafe=False, quiet=True, overwrite=True
    )
    return dst


def synced_default_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh default render with its environment synced, for a test module that edits it."""
    path = render(tmp_path_factory.mktemp("default") / "project", load_answers("default"))
    sh("uv", "sync", "--quiet", cwd=path, env=project_env())
    return path


def tree(root: Path) -> dict[str, bytes]:
    """Every file below `root` (outside .git) with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def project_env(*drop_prefixes: str) -> dict[str, str]:
    """The developer's environment minus what would leak into a rendered project's run (the
    template's venv, pytest's variables, and any `drop_prefixes`), with uv's progress bars off."""
    dropped = ("VIRTUAL_ENV", "UV_PROJECT", "PYTEST_", *drop_prefixes)
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)} | {"UV_NO_PROGRESS": "1"}


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago and that this process never handed out
    before: the kernel may give two binds in a row the same port, and a server then got its own
    port as its metrics port."""
    for _attempt in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no loopback port this process has not handed out already, in 100 tries")


def wait_for_healthz(base: str, *, seconds: float, process: subprocess.Popen[bytes] | None = None) -> bool:
    """Poll `base`/healthz until it answers 200 (True); False after `seconds` or once `process` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:  # refused while starting, or a non-200 answer (HTTPError is an OSError)
            pass
        time.sleep(0.2)
    return False


@contextlib.contextmanager
def serving_render(project: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """A render's `serve --transport http` on free ports, as `make run` starts it, in its own process
    group and logging to a file (not a pipe nobody reads while it serves): base and metrics URLs.
    The process group is gone afterwards."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    port, metrics_port = free_port(), free_port()
    env = env | {f"{answers['env_prefix']}OBSERVABILITY__METRICS_PORT": str(metrics_port)}  # not the shared 9464
    log = project.parent / f"server-{port}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            ["uv", "run", answers["project_slug"], "serve", "--transport", "http", "--port", str(port)],
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
