"""Update this project from its Copier template and write a pull-request body.

Run by .github/workflows/template-update.yml; stdlib only. Exit codes: 0 done (updated or already
up to date; see the first output line), 2 bad usage, 3 copier failed (for example a migration that
needs --trust). The body quotes the template CHANGELOG's Upgrading notes for every release after
the old version up to the new one, lists conflicted files and says whether the checks passed.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ANSWERS = ".copier-answers.yml"
VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
SECTION = re.compile(r"^## \[([^\]]+)\]", re.MULTILINE)


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # The commands are fixed argument lists; only --copier and --check-command come from the caller.
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603


def say(message: str) -> None:
    sys.stdout.write(message + "\n")


def answer(project: Path, key: str) -> str:
    """One top-level value of the answers file (plain `key: value` lines, as copier writes them)."""
    for line in (project / ANSWERS).read_text().splitlines():
        if line.startswith(f"{key}:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    return ""


def version(ref: str) -> tuple[int, int, int] | None:
    match = VERSION.match(ref)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def upgrading_notes(changelog: str, old: str, new: str) -> str:
    """The `### Upgrading` subsections of releases in (old, new], newest first."""
    low, high = version(old), version(new)
    parts = SECTION.split(changelog)
    notes: list[str] = []
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        release = version(name)
        if release is None or high is None or release > high or (low is not None and release <= low):
            continue
        match = re.search(r"^### Upgrading\n(.*?)(?=^### |\Z)", body, re.MULTILINE | re.DOTALL)
        if match and match[1].strip():
            notes.append(f"#### {name}\n\n{match[1].strip()}\n")
    return "\n".join(notes)


def template_changelog(src: str, ref: str) -> str:
    """CHANGELOG.md of the template at `ref`, read from a fresh clone of the recorded source."""
    with tempfile.TemporaryDirectory() as tmp:
        clone = run(["git", "clone", "--quiet", "--no-checkout", src, tmp], Path.cwd())
        if clone.returncode != 0:
            return ""
        shown = run(["git", "show", f"{ref}:CHANGELOG.md"], Path(tmp))
        return shown.stdout if shown.returncode == 0 else ""


def conflicts(project: Path) -> list[str]:
    """Files copier left conflicted: unmerged paths, .rej files, conflict markers."""
    found = set(run(["git", "diff", "--name-only", "--diff-filter=U"], project).stdout.split())
    found |= {str(p.relative_to(project)) for p in project.rglob("*.rej") if ".git" not in p.parts}
    run(["git", "add", "--intent-to-add", "."], project)
    check = run(["git", "diff", "--check", "HEAD"], project).stdout
    found |= {line.split(":", 1)[0] for line in check.splitlines() if "conflict marker" in line}
    return sorted(found)


def body(old: str, new: str, notes: str, conflicted: list[str], checks_passed: bool) -> str:
    lines = [f"Updates the project from template `{old}` to `{new}` (`copier update`).", ""]
    lines += ["### Upgrading notes", "", notes or "The template's CHANGELOG has none for these releases.", ""]
    if conflicted:
        lines += ["### Conflicted files (resolve before merging)", ""]
        lines += [f"- `{path}`" for path in conflicted]
    else:
        lines += ["### Conflicts", "", "None."]
    lines += ["", "### Checks", "", "Passed." if checks_passed else "**Failed**: see the workflow run."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--body-file", type=Path, required=True, help="where the PR body is written")
    parser.add_argument("--copier", default="uvx copier@9.19.1", help="how to run copier")
    parser.add_argument("--check-command", default="make check", help="the project's checks")
    parser.add_argument("--trust", action="store_true", help="allow the template's migrations to run")
    args = parser.parse_args(argv)
    project = args.project.resolve()
    if not (project / ANSWERS).is_file():
        say(f"error: --project {project} has no {ANSWERS}; run this from a rendered project.")
        return 2
    old = answer(project, "_commit")
    cmd = [*shlex.split(args.copier), "update", "--defaults", "--quiet"]
    result = run([*cmd, *(["--trust"] if args.trust else []), str(project)], project)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        hint = " It runs template migrations: rerun with --trust after reviewing them." if "trust" in output else ""
        say(f"error: copier update failed.{hint}\n{output[-2000:]}")
        return 3
    new = answer(project, "_commit")
    if new == old:
        say(f"up to date: {old}")
        return 0
    conflicted = conflicts(project)
    checks = run(shlex.split(args.check_command), project)
    notes = upgrading_notes(template_changelog(answer(project, "_src_path"), new), old, new)
    args.body_file.write_text(body(old, new, notes, conflicted, checks.returncode == 0))
    say(f"updated: {old} -> {new}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
