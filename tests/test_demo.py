"""`make demo`'s render: pinned copier everywhere, and a project that `copier update` can move on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, git, sh, template_repo

PINNED = re.compile(r"uvx copier@(\d+\.\d+\.\d+)")
DOCS = ("README.md", "template/README.md.jinja", "copier.yml", "Makefile")


def locked_copier_version() -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(package["version"] for package in lock["package"] if package["name"] == "copier")


def test_every_copier_command_in_the_docs_is_the_pinned_uvx_one() -> None:
    """A newcomer has no `copier` command: each copy or update they are told to run is
    `uvx copier@X.Y.Z`, with the version the template's own tests use."""
    version = locked_copier_version()
    for name in DOCS:
        text = (ROOT / name).read_text()
        bare = [
            line
            for line in text.splitlines()
            if re.search(r"(^|[\s`(])copier (copy|update) --", line) and "uvx copier@" not in line
        ]
        assert not bare, f"{name} runs copier without the pin: {bare}"
        assert set(PINNED.findall(text)) <= {version}, f"{name} pins another copier than uv.lock's {version}"
    assert f"COPIER ?= uvx copier@{version}" in (ROOT / "Makefile").read_text()


@pytest.mark.slow
def test_a_demo_render_is_in_git_and_updates_from_the_printed_command(tmp_path: Path) -> None:
    """The demo records the template's absolute path, commits once, prints the update command;
    that command then moves the project to a newer release and keeps the user's commit."""
    template = tmp_path / "template"
    git("clone", "--quiet", str(template_repo()), str(template), cwd=tmp_path)
    project = tmp_path / "my-server"

    rendered = sh("make", "--no-print-directory", "demo-render", f"DEST={project}", cwd=template)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert Path(answers["_src_path"]) == template
    assert git("rev-list", "--count", "HEAD", cwd=project) == "1"
    assert git("status", "--porcelain", cwd=project) == ""
    command = next(line.strip() for line in rendered.stdout.splitlines() if "update --defaults" in line)
    assert command == f"cd {project} && uvx copier@{locked_copier_version()} update --defaults"

    again = sh("make", "--no-print-directory", "demo-render", f"DEST={project}", cwd=template, check=False)
    assert again.returncode == 2
    assert "already exists" in again.stderr

    mine = project / "NOTES.md"
    mine.write_text("my notes\n")
    git("add", "-A", cwd=project)
    git("commit", "--quiet", "-m", "docs: my notes", cwd=project)
    agents = template / "template" / "AGENTS.md"
    agents.write_text(agents.read_text() + "\nA newer release's line.\n")
    git("commit", "--quiet", "-am", "docs: a newer release", cwd=template)
    git("tag", "999.0.1", cwd=template)

    sh("bash", "-c", command, cwd=tmp_path)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "999.0.1"
    assert (project / "AGENTS.md").read_text().endswith("A newer release's line.\n")
    assert mine.read_text() == "my notes\n"
    assert git("ls-files", "-u", cwd=project) == ""


def test_a_dirty_template_clone_is_refused(tmp_path: Path) -> None:
    """Copier would record a temporary revision of the uncommitted changes, which no update finds."""
    template = tmp_path / "template"
    git("clone", "--quiet", str(template_repo()), str(template), cwd=tmp_path)
    (template / "README.md").write_text("edited\n")
    result = sh("make", "--no-print-directory", "demo-render", f"DEST={tmp_path / 'p'}", cwd=template, check=False)
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr
    assert "ALLOW_DIRTY=1" in result.stderr
    assert not (tmp_path / "p").exists()
