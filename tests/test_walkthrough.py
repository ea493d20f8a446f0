"""The newcomer's first hour, as the READMEs and CONTRIBUTING.md tell it, run verbatim.

Render with defaults (`make demo` without its final `make run`), `make setup`, add the tool of
CONTRIBUTING.md's "Add a tool" section (its files and its commands, `make check` included), call
it over HTTP with the key `make setup` printed, then update from the demo render to a newer
template commit with the command the demo printed, keeping the tool. Each step's time is
printed (`pytest -s`) for the release notes.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, git, project_env, serving_render, sh, template_repo

pytestmark = pytest.mark.slow

KEY = re.compile(r"^  (mcpk_\S+)$", re.MULTILINE)
BLOCK = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def section(markdown: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same level."""
    start = markdown.index(f"\n{heading}\n")
    end = markdown.find("\n## ", start + len(heading) + 2)
    return markdown[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    """The fenced `language` blocks of `text`, dedented (list items indent theirs)."""
    return [textwrap.dedent(body) for _indent, lang, body in BLOCK.findall(text) if lang == language]


@contextmanager
def running(project: Path, env: dict[str, str]) -> Iterator[str]:
    """`serve` over HTTP on a free port, as `make run` does: the MCP endpoint's URL."""
    with serving_render(project, env) as (base, _metrics):
        yield f"{base}/mcp"


def call_greet(project: Path, env: dict[str, str], url: str, key: str) -> subprocess.CompletedProcess[str]:
    """The README's Python client example, with the key in MCP_KEY."""
    command = ("uv", "run", "python", "scripts/call_tool.py", "--url", url, "greet", json.dumps({"name": "Ada"}))
    return sh(*command, cwd=project, env={**env, "MCP_KEY": key}, check=False)


def test_the_newcomer_path_from_render_to_update(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo " in blocks(section(readme, "## Two commands"), "bash")[0]
    template = tmp_path / "template"
    git("clone", "--quiet", str(template_repo()), str(template), cwd=tmp_path)
    project = tmp_path / "my-server"
    env = project_env()
    times: dict[str, float] = {}

    started = time.monotonic()
    rendered = sh("make", "--no-print-directory", "demo-render", f"DEST={project}", cwd=template, env=env)
    times["render"] = time.monotonic() - started
    update_command = next(line.strip() for line in rendered.stdout.splitlines() if "update --defaults" in line)

    started = time.monotonic()
    setup = sh("make", "--no-print-directory", "setup", cwd=project, env=env)
    times["setup"] = time.monotonic() - started
    key = KEY.search(setup.stdout)
    assert key is not None, setup.stdout

    # CONTRIBUTING.md: the files it shows, at the paths it names, then its commands.
    steps = section((project / "CONTRIBUTING.md").read_text(), "## Add a tool in one file and one test")
    paths = re.findall(r"^\d+\. Create `([^`]+)`", steps, re.MULTILINE)
    sources = blocks(steps, "python")
    assert len(paths) == len(sources) == 2, (paths, len(sources))
    for path, source in zip(paths, sources, strict=True):
        (project / path).write_text(source)
    with running(project, env) as url:  # the new scope is not yet the development key's
        refused = call_greet(project, env, url, key.group(1))
    assert refused.returncode == 2
    assert "HTTP 403" in refused.stderr
    assert 'scope="greetings:read"' in refused.stderr

    (commands,) = blocks(steps, "bash")
    started = time.monotonic()
    sh("bash", "-euo", "pipefail", "-c", commands, cwd=project, env=env)
    times["add a tool (lock, scan, refresh, make check)"] = time.monotonic() - started

    started = time.monotonic()
    with running(project, env) as url:
        called = call_greet(project, env, url, key.group(1))
    times["first call (start the server, call over HTTP)"] = time.monotonic() - started
    assert called.returncode == 0, called.stdout + called.stderr
    assert "Hello, Ada!" in called.stdout

    git("add", "-A", cwd=project)
    git("commit", "--quiet", "-m", "feat: greet", cwd=project)
    tool = (project / paths[0]).read_bytes()
    agents = template / "template" / "AGENTS.md"
    agents.write_text(agents.read_text() + "\nA newer template commit's line.\n")
    git("commit", "--quiet", "-am", "docs: a newer template commit", cwd=template)
    git("tag", "999.0.1", cwd=template)

    started = time.monotonic()
    sh("bash", "-c", update_command, cwd=tmp_path, env=env)
    times["update"] = time.monotonic() - started
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "999.0.1"
    assert (project / "AGENTS.md").read_text().endswith("A newer template commit's line.\n")
    assert (project / paths[0]).read_bytes() == tool
    assert git("ls-files", "-u", cwd=project) == ""
    assert not list(project.rglob("*.rej"))
    sh("uv", "run", "pytest", "-q", "-p", "no:randomly", "tests/tools", cwd=project, env=env)
    print("newcomer path:", json.dumps({step: round(seconds, 1) for step, seconds in times.items()}))
