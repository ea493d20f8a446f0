"""Rendering every answer set: the right files, no template leftovers, and the same bytes every time."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import answer_sets, load_answers, render, tree

# Helm templates, Grafana dashboards and GitHub workflows legitimately contain {{ }}; copied verbatim.
FOREIGN_TEMPLATES = re.compile(r"^(charts/[^/]+/(templates|dashboards)/|\.github/workflows/|tools-waivers\.toml$)")
# A `[[name]]` alone on a line is a TOML array-of-tables header (tools-waivers.toml), not a leftover.
LEFTOVER = re.compile(r"\{\{|\{%|%\}|\[\[\s*\w+\s*\]\](?!$)|(?<!^)\[\[\s*\w+\s*\]\]", re.M)


@pytest.fixture(scope="module", params=answer_sets())
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    name: str = request.param
    return name, render(tmp_path_factory.mktemp(name) / "project", load_answers(name))


def flags(answers: dict[str, Any]) -> dict[str, bool]:
    transports = answers.get("transports", "http+stdio")
    http = transports != "stdio"
    auth = answers.get("auth_mode", "api_key") if http else "none"
    docker = answers.get("include_docker", True)
    return {
        "http": http,
        "stdio": transports != "http",
        "api_keys": auth in ("api_key", "api_key+oauth"),
        "oauth": auth in ("oauth", "api_key+oauth"),
        "docker": docker,
        "helm": bool(answers.get("include_helm", False)) and docker and http,
        "github": answers.get("ci_provider", "github") == "github",
        "license": answers.get("license", "MIT") != "Proprietary",
    }


def test_feature_files_follow_the_answers(rendered: tuple[str, Path]) -> None:
    """Each optional feature's files exist exactly when it was chosen."""
    name, project = rendered
    answers = load_answers(name)
    on = flags(answers)
    package = project / "src" / answers.get("package_name", answers["project_name"].lower().replace(" ", "_"))
    expected = {
        project / "Dockerfile": on["docker"],
        project / ".dockerignore": on["docker"],
        project / ".github" / "workflows" / "ci.yml": on["github"],
        project / "LICENSE": on["license"],
        project / "charts": on["helm"],
    }
    wrong = {str(path.relative_to(project)): want for path, want in expected.items() if path.exists() != want}
    assert wrong == {}
    for always in ("README.md", "CHANGELOG.md", "CONTRIBUTING.md", "AGENTS.md", ".env.example", "Makefile"):
        assert (project / always).is_file()
    # Every module is in every project; the answers only pick defaults (checked below).
    for module in ("transport/mcp_http.py", "transport/stdio.py", "auth/oauth.py", "limits/redis_buckets.py"):
        assert (package / module).is_file(), module


def python_files(project: Path, package: str) -> dict[str, bytes]:
    """Every Python file of a render, with the package name replaced so renders compare."""
    return {
        path.replace(package, "PKG"): data.replace(package.encode(), b"PKG")
        for path, data in tree(project).items()
        if path.endswith(".py")
    }


def test_every_python_file_is_the_same_in_every_render(tmp_path: Path) -> None:
    """One program: whatever the answers, the Python is identical except the one identity file
    (`project.py`), which holds the names and the defaults the answers chose."""
    renders = {}
    for name in answer_sets():
        answers = load_answers(name)
        package = answers.get("package_name", answers["project_name"].lower().replace(" ", "_"))
        renders[name] = python_files(render(tmp_path / name, answers), package)
    first, *others = renders
    identity = "src/PKG/project.py"
    for name in others:
        differing = sorted(
            path
            for path in set(renders[first]) | set(renders[name])
            if path != identity and renders[first].get(path) != renders[name].get(path)
        )
        assert differing == [], f"{first} and {name} differ"


def test_project_py_holds_the_chosen_defaults(rendered: tuple[str, Path]) -> None:
    """The answers become defaults of settings, not code paths."""
    name, project = rendered
    answers = load_answers(name)
    on = flags(answers)
    package = answers.get("package_name", answers["project_name"].lower().replace(" ", "_"))
    text = (project / "src" / package / "project.py").read_text()
    mode = answers.get("auth_mode", "api_key") if on["http"] else "none"
    backend = answers.get("rate_limit_backend", "memory") if on["http"] else "memory"
    assert re.search(rf'^AUTH_MODE: Final\[.*\] = "{re.escape(mode)}"$', text, re.M)
    assert re.search(rf'^RATE_LIMIT_BACKEND: Final\[.*\] = "{backend}"$', text, re.M)
    assert re.search(rf'^DEFAULT_TRANSPORT: Final\[.*\] = "{"http" if on["http"] else "stdio"}"$', text, re.M)


def test_no_template_syntax_is_left_over(rendered: tuple[str, Path]) -> None:
    """No `{{`, `{%`, `[[` outside the files that are Helm or Actions templates themselves."""
    _name, project = rendered
    leftovers = [
        path
        for path, data in tree(project).items()
        if not FOREIGN_TEMPLATES.match(path) and LEFTOVER.search(data.decode("utf-8", "replace"))
    ]
    assert leftovers == []


def test_no_file_name_carries_template_syntax(rendered: tuple[str, Path]) -> None:
    """Conditional names render to plain names (or not at all)."""
    _name, project = rendered
    assert [p for p in tree(project) if "{" in p or "%" in p or p.endswith(".jinja")] == []


def test_structured_files_parse(rendered: tuple[str, Path]) -> None:
    """TOML, JSON and YAML outside Helm templates are well-formed."""
    _name, project = rendered
    for path, data in tree(project).items():
        if path.endswith(".toml"):
            tomllib.loads(data.decode())
        elif path.endswith(".json"):
            json.loads(data)
        elif path.endswith((".yml", ".yaml")) and not FOREIGN_TEMPLATES.match(path):
            list(yaml.safe_load_all(data))


def test_rendering_twice_gives_identical_bytes(rendered: tuple[str, Path], tmp_path: Path) -> None:
    """Rendering is deterministic, so updates only show real changes."""
    name, project = rendered
    again = render(tmp_path / "project", load_answers(name))
    assert tree(again) == tree(project)


FENCED = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def fenced_blocks(markdown: str, language: str) -> list[str]:
    return [body for lang, body in FENCED.findall(markdown) if lang == language]


def commands_in(document: Any) -> list[str]:
    """Every "command" value anywhere in a client configuration."""
    if isinstance(document, dict):
        own = [document["command"]] if isinstance(document.get("command"), str) else []
        return own + [command for value in document.values() for command in commands_in(value)]
    if isinstance(document, list):
        return [command for value in document for command in commands_in(value)]
    return []


def test_readme_client_snippets_are_valid(rendered: tuple[str, Path]) -> None:
    """Every JSON block of the README parses, every client entry starts the server by an absolute
    path (a GUI launcher's PATH lacks uv), and the Python block compiles."""
    name, project = rendered
    readme = (project / "README.md").read_text()
    assert "## Connect a client" in readme
    configs = [json.loads(block) for block in fenced_blocks(readme, "json")]
    assert configs, "the README shows no client configuration"
    commands = [command for config in configs for command in commands_in(config)]
    assert all(command.startswith("/") for command in commands), commands
    assert bool(commands) == flags(load_answers(name))["stdio"]
    for block in fenced_blocks(readme, "python"):
        compile(block, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


def inspect_commands(project: Path, *variables: str) -> list[list[str]]:
    """The commands `make inspect` would run (make -n), split as the shell splits them."""
    printed = subprocess.run(
        ["make", "--no-print-directory", "-n", "inspect", "UV=uv", *variables],
        cwd=project,
        # Under an outer make (`make test`), MAKEFLAGS would carry its options into this one.
        env={k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [shlex.split(line) for line in printed.stdout.splitlines()]


def test_make_inspect_puts_the_server_command_after_the_separator(rendered: tuple[str, Path]) -> None:
    """stdio: the Inspector's own options, then `--`, then the server with its `--transport stdio`
    (else the Inspector takes that option as its own); HTTP: the endpoint, with the key from the
    environment as a bearer header when the project authenticates."""
    name, project = rendered
    answers = load_answers(name)
    on, slug = flags(answers), yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
    check, *runs = inspect_commands(project, "INSPECTOR=inspector", "ARGS=--cli --method tools/list")
    assert check == ["uv", "run", "python", "scripts/require_node.py", "22.19.0", "make inspect (the MCP Inspector)"]
    if on["stdio"]:
        [inspector] = runs
        separator = inspector.index("--")
        assert inspector[:separator] == ["inspector", "--cli", "--method", "tools/list", "--transport", "stdio"]
        server = ["uv", "run", "--directory", str(project), slug, "serve", "--transport", "stdio"]
        assert inspector[separator + 1 :] == server
    if on["http"]:
        *guard, inspector = inspect_commands(project, "TRANSPORT=http", "INSPECTOR=inspector")[1:]
        authenticates = on["api_keys"] or on["oauth"]
        header = ["--header", "Authorization: Bearer $MCP_KEY"] if authenticates else []
        assert inspector == ["inspector", *header, "--transport", "http", "http://127.0.0.1:8000/mcp"]
        assert bool(guard) == authenticates
