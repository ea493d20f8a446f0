"""The template's own CI workflow: valid for GitHub, and it runs everything `.ci/run` runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import yaml

from .conftest import ROOT, answer_sets

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def test_the_workflow_matches_the_github_schema() -> None:
    checker = shutil.which("check-jsonschema")
    assert checker, "check-jsonschema is a dev dependency"
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_answer_set_has_a_generated_job() -> None:
    """A new tests/answers file fails here until the workflow's matrix lists it."""
    assert workflow()["jobs"]["generated"]["strategy"]["matrix"]["answers"] == answer_sets()


def test_every_test_module_runs_in_some_job() -> None:
    """Splitting the suite across jobs must not drop a module."""
    commands = " ".join(
        step.get("run", "") for job in workflow()["jobs"].values() for step in job["steps"] if isinstance(step, dict)
    )
    assert '-m "not slow"' in commands  # the fast modules
    for module in ("tests/test_generated.py", "tests/test_update.py", "tests/test_matrix.py"):
        assert module in commands, module
    assert "tests/delivery" in commands
    assert "tests/interop" in commands


def test_release_tags_are_fetched_where_updates_are_tested() -> None:
    """Without the tags the update test has nothing to update from."""
    steps = workflow()["jobs"]["update"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0


def test_actions_are_pinned_and_scripts_exist() -> None:
    for job in workflow()["jobs"].values():
        for step in job["steps"]:
            uses = step.get("uses")
            if uses:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+\.\d+\.\d+", uses), f"pin {uses} to a full version"
            for word in step.get("run", "").split():
                if word.startswith(".ci/"):
                    assert (ROOT / word).is_file(), f"{word} is referenced but missing"
