"""Rendering every answer set: the right files, no template leftovers, and the same bytes every time."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import answer_sets, load_answers, render, tree

# Helm templates, Grafana dashboards and GitHub workflows legitimately contain {{ }}; copied verbatim.
FOREIGN_TEMPLATES = re.compile(r"^(charts/[^/]+/(templates|dashboards)/|\.github/workflows/)")
LEFTOVER = re.compile(r"\{\{|\{%|%\}|\[\[\s*\w+\s*\]\]")


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
        package / "transport" / "mcp_http.py": on["http"],
        package / "transport" / "health.py": on["http"],
        package / "transport" / "stdio.py": on["stdio"],
        package / "auth" / "api_keys.py": on["api_keys"],
        package / "auth" / "oauth.py": on["oauth"],
        package / "auth" / "middleware.py": on["api_keys"] or on["oauth"],
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
