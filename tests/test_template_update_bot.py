"""The rendered update bot: its workflow's shape, and its script against a template with two releases."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml

from .conftest import CANDIDATE, git, load_answers, render, template_repo

COPIER = str(Path(sys.executable).with_name("copier"))
NEXT = "999.0.1"
NEW_NOTE = "BOT-NOTE: run make setup again after this release."
OLD_NOTE = "BOT-OLD-NOTE: a note of the release the project is already on."


@pytest.fixture(scope="module")
def github_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("bot") / "project", load_answers("default"))


def test_the_workflow_runs_the_script_with_pinned_actions_and_minimal_permissions(github_render: Path) -> None:
    workflow = yaml.safe_load((github_render / ".github" / "workflows" / "template-update.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the `on` key as a boolean
    assert "schedule" in triggers
    assert "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    steps = job["steps"]
    uses = [step["uses"] for step in steps if "uses" in step]
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})", use) for use in uses), uses
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "python3 scripts/template_update.py" in runs
    assert (github_render / "scripts" / "template_update.py").is_file()


def test_no_update_bot_without_github_ci(tmp_path: Path) -> None:
    project = render(tmp_path / "project", {**load_answers("minimal"), "ci_provider": "none"})
    assert not (project / ".github").exists()


def two_releases(tmp_path: Path) -> Path:
    """A clone of the template with one more release after the candidate: it changes the Makefile's
    first line and adds a CHANGELOG section with an Upgrading note."""
    repo = tmp_path / "template"
    git("clone", "--quiet", str(template_repo()), str(repo), cwd=tmp_path)
    git("checkout", "--quiet", CANDIDATE, cwd=repo)
    changelog = repo / "CHANGELOG.md"
    text = changelog.read_text()
    # The candidate's own top release gets a note the update must not quote (it is not newer).
    text = text.replace("## [Unreleased]", f"## [{CANDIDATE}] - 2026-12-03\n\n### Upgrading\n\n- {OLD_NOTE}\n", 1)
    git_commit_tag(repo, changelog, text, CANDIDATE, force=True)
    makefile = repo / "template" / "Makefile.jinja"
    makefile.write_text("# The next release.\n" + makefile.read_text())
    text = f"## [{NEXT}] - 2026-12-04\n\n### Upgrading\n\n- {NEW_NOTE}\n\n" + changelog.read_text()
    git_commit_tag(repo, changelog, text, NEXT)
    return repo


def git_commit_tag(repo: Path, path: Path, text: str, tag: str, *, force: bool = False) -> None:
    path.write_text(text)
    git("add", "-A", cwd=repo)
    git("commit", "--quiet", "-m", f"release {tag}", cwd=repo)
    git("tag", *(["-f"] if force else []), tag, cwd=repo)


def rendered_at(repo: Path, ref: str, dst: Path) -> Path:
    copier.run_copy(str(repo), dst, data=load_answers("default"), vcs_ref=ref, defaults=True, unsafe=False, quiet=True)
    git("init", "-q", cwd=dst)
    git("add", "-A", cwd=dst)
    git("commit", "-q", "-m", "chore: scaffold", cwd=dst)
    return dst


def run_bot(project: Path, body: Path, check: str = "true") -> subprocess.CompletedProcess[str]:
    script = project / "scripts" / "template_update.py"
    cmd = [sys.executable, str(script), "--body-file", str(body), "--copier", COPIER, "--check-command", check]
    return subprocess.run(cmd, cwd=project, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_the_bot_updates_and_quotes_only_the_notes_in_range(tmp_path: Path) -> None:
    repo = two_releases(tmp_path)
    project = rendered_at(repo, CANDIDATE, tmp_path / "project")
    body = tmp_path / "body.md"
    result = run_bot(project, body)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"updated: {CANDIDATE} -> {NEXT}" in result.stdout
    text = body.read_text()
    assert NEW_NOTE in text
    assert OLD_NOTE not in text
    assert "### Conflicts\n\nNone." in text
    assert "Passed." in text
    assert (project / "Makefile").read_text().startswith("# The next release.")


@pytest.mark.slow
def test_the_bot_lists_conflicted_files_and_failed_checks(tmp_path: Path) -> None:
    repo = two_releases(tmp_path)
    project = rendered_at(repo, CANDIDATE, tmp_path / "project")
    makefile = project / "Makefile"
    makefile.write_text("".join(f"{line.rstrip()} # edited\n" for line in makefile.read_text().splitlines()))
    git("commit", "-q", "-am", "chore: local edits", cwd=project)
    body = tmp_path / "body.md"
    result = run_bot(project, body, check="false")
    assert result.returncode == 0, result.stdout + result.stderr
    text = body.read_text()
    assert "### Conflicted files (resolve before merging)\n\n- `Makefile`" in text
    assert "**Failed**" in text


@pytest.mark.slow
def test_the_bot_does_nothing_when_up_to_date(tmp_path: Path) -> None:
    repo = two_releases(tmp_path)
    project = rendered_at(repo, NEXT, tmp_path / "project")
    body = tmp_path / "body.md"
    result = run_bot(project, body)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"up to date: {NEXT}"
    assert not body.exists()
    assert git("status", "--porcelain", cwd=project) == ""
