"""Pairwise answer matrix: every pair of option values renders a project that passes its fast checks.

The named answer sets (tests/answers) cover the realistic combinations in depth; this covers the
interactions between options, each pair at least once, with the rendered project's own lint and
types, and the tests of what the answers still change: the defaults in `project.py`, the
documented settings (README, .env.example) and the command line. The rest of the Python is the
same in every render (test_render checks it byte for byte), so its full suite runs once per named
answer set rather than once per pair. Python versions other than the machine's cannot be installed offline,
so the matrix renders the default one (3.11); the README lists the others as supported.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from .conftest import project_env, render, sh

pytestmark = pytest.mark.slow

OPTIONS: dict[str, list[Any]] = {
    "transports": ["http+stdio", "http", "stdio"],
    "auth_mode": ["api_key", "oauth", "api_key+oauth", "none"],
    "rate_limit_backend": ["memory", "redis"],
    "include_docker": [True, False],
    "include_helm": [True, False],
    "ci_provider": ["github", "none"],
    "license": ["MIT", "Apache-2.0", "Proprietary"],
}


def effective(combo: dict[str, Any]) -> dict[str, Any]:
    """The answers copier records: questions skipped by their `when` drop out (None here)."""
    stdio_only = combo["transports"] == "stdio"
    return {
        **combo,
        "auth_mode": None if stdio_only else combo["auth_mode"],
        "rate_limit_backend": None if stdio_only else combo["rate_limit_backend"],
        "include_helm": None if stdio_only or not combo["include_docker"] else combo["include_helm"],
    }


def pairs(combo: dict[str, Any]) -> set[tuple[tuple[str, Any], tuple[str, Any]]]:
    items = sorted((k, v) for k, v in combo.items() if v is not None)
    return set(itertools.combinations(items, 2))


@cache
def pairwise() -> list[dict[str, Any]]:
    """A small set of combinations covering every reachable pair of values (greedy, deterministic)."""
    candidates = []
    for values in itertools.product(*OPTIONS.values()):
        combo = effective(dict(zip(OPTIONS, values, strict=True)))
        if combo not in candidates:
            candidates.append(combo)
    uncovered = set().union(*(pairs(c) for c in candidates))
    chosen: list[dict[str, Any]] = []
    while uncovered:
        best = max(candidates, key=lambda c: len(pairs(c) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


def answers_for(combo: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in combo.items() if v is not None}
    if combo["auth_mode"] == "none":
        data["acknowledge_no_auth"] = True
    return {"project_name": "Matrix MCP", "user_name": "Template Tests", "user_email": "tests@example.com", **data}


def combo_id(combo: dict[str, Any]) -> str:
    return "-".join(str(v) for v in combo.values() if v is not None).replace("+", "_")


def test_the_pairwise_cover_stays_small() -> None:
    """Every pair at least once in far fewer renders than the full product (covering every pair is
    the loop condition of `pairwise`, so only its size can regress)."""
    assert len(pairwise()) <= 20


@pytest.mark.parametrize("combo", pairwise(), ids=combo_id)
def test_every_pair_of_options_renders_a_project_that_passes_its_fast_checks(
    combo: dict[str, Any], tmp_path: Path
) -> None:
    """Format, lint, strict types and the answer-dependent tests of the rendered project."""
    project = render(tmp_path / "project", answers_for(combo))
    env = project_env()
    sh("uv", "sync", "--quiet", cwd=project, env=env)
    sh("uv", "run", "--quiet", "ruff", "format", "--check", ".", cwd=project, env=env)
    sh("uv", "run", "--quiet", "ruff", "check", ".", cwd=project, env=env)
    sh("uv", "run", "--quiet", "mypy", cwd=project, env=env)
    answers_dependent = ["tests/test_config_docs.py", "tests/test_cli.py", "tests/test_layering.py"]
    sh("uv", "run", "--quiet", "pytest", "-q", "-x", "-p", "no:cacheprovider", *answers_dependent, cwd=project, env=env)
