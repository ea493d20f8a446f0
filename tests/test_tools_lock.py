"""The rendered project's tools.lock pins its surface: a changed description fails until `make lock-tools`."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import project_env, sh, synced_default_render

pytestmark = pytest.mark.slow

LOCK_TEST = "tests/tools/test_tools_lock.py"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default render with its environment synced once."""
    return synced_default_render(tmp_path_factory)


def test_a_changed_description_fails_until_the_lock_is_rewritten(project: Path) -> None:
    """The seeded lock matches; an edited description fails the check and the test, naming the
    tool; `make lock-tools` makes both pass again."""
    command = [*project_command(project), "lock-tools", "--check"]
    env = project_env()
    assert sh(*command, cwd=project, env=env, check=False).returncode == 0
    notes = next((project / "src").glob("*/tools/example_notes.py"))
    notes.write_text(notes.read_text().replace("Delete a note permanently.", "Delete a note for good."))

    checked = sh(*command, cwd=project, env=env, check=False)
    assert checked.returncode == 1
    assert "--- tools.lock (reviewed)" in checked.stdout
    assert "+++ live surface" in checked.stdout
    assert '+          "description": "Delete a note for good.' in checked.stdout
    assert "changed: 2025-11-25 tools: delete_note" in checked.stdout
    assert "make lock-tools" in checked.stdout
    tested = sh("uv", "run", "pytest", "-q", "-p", "no:cacheprovider", LOCK_TEST, cwd=project, env=env, check=False)
    assert tested.returncode == 1
    assert "Delete a note for good." in tested.stdout
    assert "make lock-tools" in tested.stdout

    sh("make", "--no-print-directory", "lock-tools", cwd=project, env=env)
    assert sh(*command, cwd=project, env=env, check=False).returncode == 0
    sh(
        "uv",
        "run",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        LOCK_TEST,
        "tests/tools/test_context_budget.py",
        cwd=project,
        env=env,
    )


def project_command(project: Path) -> list[str]:
    """`uv run <the project's console script>`."""
    text = (project / "pyproject.toml").read_text()
    script = text.split("[project.scripts]\n", 1)[1].split(" =", 1)[0].strip()
    return ["uv", "run", script]
