"""`copier update` from every release to the working tree: clean, equal to a fresh render, user code kept.

Copier exits 0 even when an update conflicts, so every check here looks for conflicts itself.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import (
    CANDIDATE,
    ROOT,
    SYNTHETIC_PREVIOUS,
    git,
    load_answers,
    project_env,
    render,
    sh,
    template_repo,
    tree,
)
from .conftest import release_tags as all_release_tags

pytestmark = pytest.mark.slow

COPIER = str(Path(sys.executable).with_name("copier"))
ANSWERS = "default"
PACKAGE = "notes_mcp"


def release_tags() -> list[str]:
    """Releases to update from, newest first (UPDATE_FROM_LAST_N_TAGS limits how many): the real
    ones, or the synthetic previous release when the checkout holds no history."""
    tags = [tag for tag in all_release_tags(template_repo()) if tag != CANDIDATE]
    limit = int(os.environ.get("UPDATE_FROM_LAST_N_TAGS", "0")) or None
    return tags[:limit]


def real_release_tags() -> list[str]:
    return [tag for tag in release_tags() if tag != SYNTHETIC_PREVIOUS]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "release_tag" in metafunc.fixturenames:
        # Never empty: template_repo() makes a synthetic previous release when none is in reach.
        metafunc.parametrize("release_tag", release_tags())


def commit_all(project: Path, message: str) -> None:
    if not (project / ".git").exists():
        git("init", "-q", cwd=project)
    git("add", "-A", cwd=project)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=project)


def answers(project: Path) -> dict[str, Any]:
    data = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


def assert_no_conflicts(project: Path) -> None:
    """No unmerged paths, no .rej files, no conflict markers: what `copier update` leaves silently."""
    unmerged = git("ls-files", "-u", cwd=project)
    rejects = [p for p in project.rglob("*.rej") if ".git" not in p.parts]
    markers = sh("git", "diff", "--check", "HEAD", cwd=project, check=False)
    assert not unmerged, f"unmerged paths:\n{unmerged}"
    assert not rejects, f".rej files: {rejects}"
    assert markers.returncode == 0, f"conflict markers:\n{markers.stdout}"


def update(project: Path, *extra: str) -> None:
    """`copier update --defaults` to the newest tag (the candidate), as a user runs it."""
    sh(COPIER, "update", "--defaults", "--quiet", *extra, str(project), cwd=project)


# A user who added a tool, a service and a setting, with a test, through the seams only.
USER_SERVICE = '''"""Greetings: a service the user added."""


class Greeter:
    """Builds greetings."""

    def __init__(self, opening: str) -> None:
        self._opening = opening

    def greet(self, name: str) -> str:
        """A greeting for `name`."""
        return f"{self._opening}, {name}!"
'''

USER_TOOL = '''"""A tool the user added."""

from mcp.server.mcpserver import Context

from ..services import Services
from ..toolkit import Registry


async def greet(name: str, ctx: Context[Services]) -> str:
    """Greet someone by name."""
    return ctx.request_context.lifespan_context.greeter.greet(name)


def register(registry: Registry) -> None:
    """Add the greeting tool."""
    registry.tool(title="Greet")(greet)
'''

USER_TEST = '''"""The user's test of their tool."""

import pytest
from mcp import Client

from ..conftest import make_server

pytestmark = pytest.mark.anyio


async def test_greet_uses_the_configured_opening() -> None:
    async with Client(make_server(services={"greeting": "Howdy"})) as client:
        result = await client.call_tool("greet", {"name": "Ada"})
    assert not result.is_error
    assert "Howdy, Ada!" in str(result.content)
'''

USER_SETTING = '''
    greeting: str = "Hello"
    """How the greet tool opens its answer."""
'''


def migrated(text: str, release_tag: str) -> str:
    """A user's file as the migrations an update from `release_tag` crosses leave it (v0.9.0
    rewrites imports of the helpers it moved; no other migration touches owner files)."""
    if release_tag not in tags_before("v0.9.0"):
        return text
    spec = importlib.util.spec_from_file_location("v0_9_0", ROOT / "hooks" / "migrations" / "v0_9_0_moved_modules.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rewritten: str = module.rewrite(text, PACKAGE)
    return rewritten


def add_user_code(project: Path) -> dict[str, str]:
    """Add a service, a setting, a tool and its test; return the user-written files' texts."""
    pkg = project / "src" / PACKAGE
    (pkg / "services" / "greeting.py").write_text(USER_SERVICE)
    (pkg / "tools" / "greet.py").write_text(USER_TOOL)
    (project / "tests" / "tools" / "test_greet.py").write_text(USER_TEST)
    settings = pkg / "services" / "settings.py"
    settings.write_text(settings.read_text() + USER_SETTING)
    init = pkg / "services" / "__init__.py"
    text = init.read_text()
    text = text.replace(
        "from .settings import ServiceSettings", "from .greeting import Greeter\nfrom .settings import ServiceSettings"
    )
    text = re.sub(r"(\n    idempotency: IdempotencyCache\n)", r"\1    greeter: Greeter\n", text, count=1)
    # The seed's `Services(...)` call sits deeper once it opens upstreams (v0.12.0): keep its indent.
    text = re.sub(
        r"(\n( +)idempotency=IdempotencyCache\(.*\),\n)",
        r"\1\2greeter=Greeter(settings.greeting),\n",
        text,
        count=1,
    )
    assert text.count("Greeter") == 3, "the seeded services/__init__.py changed shape; update this simulation"
    init.write_text(text)
    paths = [
        "src/notes_mcp/services/greeting.py",
        "src/notes_mcp/tools/greet.py",
        "tests/tools/test_greet.py",
        "src/notes_mcp/services/settings.py",
        "src/notes_mcp/services/__init__.py",
    ]
    return {path: (project / path).read_text() for path in paths}


def user_owned(path: str) -> bool:
    """Files an updated project may legitimately hold differently from a fresh render."""
    return path.startswith(
        (
            ".copier-answers.yml",
            "CHANGELOG.md",
            f"src/{PACKAGE}/tools/",
            f"src/{PACKAGE}/services/",
            "tests/tools/",
            "tests/services/",
            # The reviewed snapshot of the project's own tools: an update never writes it.
            "tools.lock",
        )
    )


def test_update_from_each_release_is_clean_and_keeps_the_users_code(release_tag: str, tmp_path: Path) -> None:
    """Render at the release, add user code, update: no conflict, user code intact, template files
    equal to a fresh render, the project's own checks pass, and a second update changes nothing."""
    data = load_answers(ANSWERS)
    fresh = render(tmp_path / "fresh", data)
    project = render(tmp_path / "project", data, ref=release_tag)
    commit_all(project, f"chore: scaffold from {release_tag}")
    written = add_user_code(project)
    commit_all(project, "feat: greet tool")

    update(project, "--trust")
    assert_no_conflicts(project)
    assert answers(project)["_commit"] == CANDIDATE
    for path, text in written.items():
        expected = migrated(text, release_tag)
        assert (project / path).read_text() == expected, f"the update changed the user's {path}"
    got, want = tree(project), tree(fresh)
    template_paths = {p for p in want if not user_owned(p)}
    missing = sorted(p for p in template_paths if p not in got)
    differing = sorted(p for p in template_paths if p in got and got[p] != want[p])
    extra = sorted(p for p in got if p not in want and not user_owned(p))
    assert (missing, differing, extra) == ([], [], []), "updated project differs from a fresh render"

    commit_all(project, "chore: update the template")
    update(project, "--trust")
    assert git("status", "--porcelain", cwd=project) == "", "a second update changed files"

    sh("make", "setup", cwd=project, env=project_env())
    # The one step the Upgrading notes ask for. Until it is taken the snapshot test fails and says
    # how to fix it: the update writes no tools.lock, and the user's greet tool is in none.
    lock_test = sh(
        "uv",
        "run",
        "--quiet",
        "pytest",
        "-q",
        "tests/tools/test_tools_lock.py",
        cwd=project,
        env=project_env(),
        check=False,
    )
    assert lock_test.returncode != 0
    assert "make lock-tools" in lock_test.stdout, lock_test.stdout[-2000:]
    sh("make", "lock-tools", cwd=project, env=project_env())
    # Every template-owned file is now equal to a fresh render (asserted above): what differs between
    # releases is the seeded code the owner kept. The whole rendered suite (`make check`, minutes
    # each) runs for the newest and the oldest release, the two most users and the most drift update
    # from; every other release gets the checks that read the kept code against the new template:
    # formatting, lint, mypy --strict over everything, and the owner's own tests.
    digest = project_digest(project)
    if digest in CHECKED_TREES:
        return
    tags = release_tags()
    if release_tag in (tags[0], tags[-1]):
        sh("make", "check", cwd=project, env=project_env())
    else:
        sh("make", "lint", "typecheck", cwd=project, env=project_env())
        owners_tests = ["tests/tools", "tests/services"]
        sh(
            "uv",
            "run",
            "--quiet",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *owners_tests,
            cwd=project,
            env=project_env(),
        )
    CHECKED_TREES[digest] = release_tag


CHECKED_TREES: dict[str, str] = {}
"""Digests of updated projects whose checks passed in this run, and the release each came from."""


def project_digest(project: Path) -> str:
    """A digest of the files git would hold in `project` (what `make check` reads, without caches)."""
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=project)
    digest = hashlib.sha256()
    for path in sorted(p for p in listed.split("\0") if p):
        file = project / path
        digest.update(path.encode() + b"\0" + (file.read_bytes() if file.is_file() else b"<absent>") + b"\0")
    return digest.hexdigest()


def test_the_conflict_check_detects_a_conflict(tmp_path: Path) -> None:
    """A user edit on a line the update also changes is reported: the checks above can fail."""
    tags = release_tags()
    project = render(tmp_path / "project", load_answers(ANSWERS), ref=tags[-1])
    commit_all(project, "chore: scaffold")
    # The oldest release's Makefile and the candidate's differ; edit every line of it.
    makefile = project / "Makefile"
    makefile.write_text("".join(f"{line.rstrip()} # edited\n" for line in makefile.read_text().splitlines()))
    commit_all(project, "chore: local edits")
    update(project, "--trust")
    with pytest.raises(AssertionError, match=r"conflict markers|unmerged|\.rej"):
        assert_no_conflicts(project)


def test_update_refuses_a_dirty_project(tmp_path: Path) -> None:
    """Uncommitted work is never overwritten: copier refuses, the file is untouched."""
    project = render(tmp_path / "project", load_answers(ANSWERS))
    commit_all(project, "chore: scaffold")
    (project / "README.md").write_text("work in progress\n")
    result = sh(COPIER, "update", "--defaults", "--quiet", str(project), cwd=project, check=False)
    assert result.returncode != 0
    assert "dirty" in (result.stdout + result.stderr).lower()
    assert (project / "README.md").read_text() == "work in progress\n"


def tags_before(version: str) -> list[str]:
    """Release tags older than `version` (newest first)."""
    key = tuple(int(part) for part in version.lstrip("v").split("."))
    return [tag for tag in real_release_tags() if tuple(int(part) for part in tag.lstrip("v").split(".")) < key]


def test_migration_v0_6_0_keeps_a_raised_context_budget(tmp_path: Path) -> None:
    """The budget test moved to tests/tools/; a budget the user had raised survives the move."""
    older = tags_before("v0.6.0")
    if not older:
        pytest.skip("no release before v0.6.0")
    project = render(tmp_path / "project", load_answers(ANSWERS), ref=older[0])
    commit_all(project, "chore: scaffold")
    old = project / "tests" / "test_context_budget.py"
    assert "TOOLS_LIST_BUDGET_BYTES = 12_000" in old.read_text()
    old.write_text(old.read_text().replace("TOOLS_LIST_BUDGET_BYTES = 12_000", "TOOLS_LIST_BUDGET_BYTES = 30_000"))
    commit_all(project, "test: a bigger tool list")

    without_trust = sh(COPIER, "update", "--defaults", "--quiet", str(project), cwd=project, check=False)
    assert without_trust.returncode != 0
    assert "--trust" in without_trust.stdout + without_trust.stderr  # copier says how to proceed
    update(project, "--trust")

    assert_no_conflicts(project)
    assert not old.exists()
    moved = (project / "tests" / "tools" / "test_context_budget.py").read_text()
    assert "TOOLS_LIST_BUDGET_BYTES = 30_000" in moved
    assert "MAX_DESCRIPTION_WORDS = 50" in moved
    before = git("status", "--porcelain", cwd=project)
    sh(sys.executable, str(ROOT / "hooks" / "migrations" / "v0_6_0_context_budget.py"), cwd=project)
    assert git("status", "--porcelain", cwd=project) == before  # idempotent


def test_migration_v0_6_0_script_carries_edited_values_into_the_moved_file(tmp_path: Path) -> None:
    """The migration on its own, needing no release history: an edited old file's values move over,
    the script is idempotent, and once the old file has left the last commit it does nothing."""
    project = render(tmp_path / "project", load_answers(ANSWERS))
    new = project / "tests" / "tools" / "test_context_budget.py"
    seeded = new.read_text()
    default = re.search(r"^TOOLS_LIST_BUDGET_BYTES = [0-9_]+", seeded, re.MULTILINE)
    assert default is not None, seeded
    raised = seeded.replace(default.group(0), "TOOLS_LIST_BUDGET_BYTES = 30_000")
    old = project / "tests" / "test_context_budget.py"
    old.write_text(raised)
    commit_all(project, "chore: the pre-0.6.0 layout, with a raised budget")
    old.unlink()  # what copier does to the file the template no longer renders
    script = str(ROOT / "hooks" / "migrations" / "v0_6_0_context_budget.py")

    sh(sys.executable, script, cwd=project)
    moved = new.read_text()
    assert "TOOLS_LIST_BUDGET_BYTES = 30_000" in moved
    assert moved == raised
    sh(sys.executable, script, cwd=project)
    assert new.read_text() == moved

    new.write_text(seeded)
    commit_all(project, "chore: the move committed")
    sh(sys.executable, script, cwd=project)
    assert new.read_text() == seeded


V08_TOOL = '''"""A user's tool written against the v0.8 layout."""

from ..idempotency import IdempotencyCache
from ..redaction import redact
from ..safe_paths import resolve_inside
from ..toolkit import Registry
from ..untrusted import untrusted_result

CACHE = IdempotencyCache(ttl_seconds=60)


def register(registry: Registry) -> None:
    @registry.tool()
    async def shout(text: str) -> str:
        """Upper-case the text."""
        return redact(text).upper()

    assert resolve_inside and untrusted_result
'''


def test_migration_v0_9_0_rewrites_imports_of_moved_modules(tmp_path: Path) -> None:
    """A project from v0.8.0 whose own tool imports the helpers that moved into rooms updates with
    no conflict, its imports rewritten, and passes its checks."""
    older = [tag for tag in tags_before("v0.9.0") if tag >= "v0.8.0"]
    if not older:
        pytest.skip("no v0.8.x release to update from")
    project = render(tmp_path / "project", load_answers(ANSWERS), ref=older[0])
    package = load_answers(ANSWERS).get("package_name") or next((project / "src").iterdir()).name
    tool = project / "src" / package / "tools" / "shout.py"
    tool.write_text(V08_TOOL)
    commit_all(project, "feat: a tool of my own")
    update(project, "--trust")
    assert_no_conflicts(project)
    text = tool.read_text()
    assert "from ..toolkit.idempotency import IdempotencyCache" in text
    assert "from ..observability.redaction import redact" in text
    assert "from ..toolkit.safe_paths import resolve_inside" in text
    assert "from ..toolkit.untrusted import untrusted_result" in text
    assert "from ..toolkit import Registry" in text
    assert not (project / "src" / package / "idempotency.py").exists()
    sh("uv", "sync", "--quiet", cwd=project, env=project_env())
    sh("uv", "run", "--quiet", "python", "-c", f"import {package}.tools.shout", cwd=project, env=project_env())


def test_migration_v0_9_0_script_on_its_own(tmp_path: Path) -> None:
    """Relative and absolute imports in owned files are rewritten; template files are not touched;
    a second run changes nothing; a bad argument is refused with usage."""
    script = str(ROOT / "hooks" / "migrations" / "v0_9_0_moved_modules.py")
    (tmp_path / "src" / "acme" / "services").mkdir(parents=True)
    (tmp_path / "tests" / "tools").mkdir(parents=True)
    service = tmp_path / "src" / "acme" / "services" / "store.py"
    service.write_text("from ..safe_paths import resolve_inside\nfrom ..scopes import ScopePolicy\n")
    test = tmp_path / "tests" / "tools" / "test_x.py"
    test.write_text("from acme.mcp_server import McpServer\nimport acme.untrusted\nfrom acme.toolkit import Registry\n")
    owned_by_template = tmp_path / "src" / "acme" / "app.py"
    owned_by_template.write_text("from .redaction import redact\n")

    sh(sys.executable, script, "acme", cwd=tmp_path)
    assert (
        service.read_text()
        == "from ..auth.scopes import ScopePolicy\nfrom ..toolkit.safe_paths import resolve_inside\n"  # re-sorted
    )
    assert test.read_text().splitlines() == [
        "from acme.toolkit.server import ErrorContractServer",
        "import acme.toolkit.untrusted",
        "from acme.toolkit import Registry",
    ]
    assert owned_by_template.read_text() == "from .redaction import redact\n"
    before = service.read_text(), test.read_text()
    sh(sys.executable, script, "acme", cwd=tmp_path)
    assert (service.read_text(), test.read_text()) == before
    refused = sh(sys.executable, script, "Not A Package", cwd=tmp_path, check=False)
    assert refused.returncode == 2
    assert "usage" in refused.stderr
