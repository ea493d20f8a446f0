"""copier.yml itself: every question is typed, explained, defaulted, and safe to answer non-interactively."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from .conftest import ROOT

CONFIG: dict[str, Any] = yaml.safe_load((ROOT / "copier.yml").read_text())
QUESTIONS = {k: v for k, v in CONFIG.items() if not k.startswith("_")}
ASKED = {k: v for k, v in QUESTIONS.items() if v.get("when") is not False}


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_every_question_has_a_type_and_a_default(name: str) -> None:
    """`copier copy --defaults` and `copier update --defaults` need a default for every question."""
    question = QUESTIONS[name]
    assert "type" in question
    assert "default" in question


@pytest.mark.parametrize("name", sorted(ASKED))
def test_every_asked_question_explains_itself(name: str) -> None:
    """A prompt without help is a guess for the user."""
    assert ASKED[name].get("help", "").strip()


@pytest.mark.parametrize("name", sorted(n for n, q in ASKED.items() if q["type"] == "str" and "choices" not in q))
def test_every_free_text_question_is_validated(name: str) -> None:
    """Free text lands in code, TOML and YAML: each has a validator."""
    assert ASKED[name].get("validator")


def test_versions_are_quoted_strings() -> None:
    """YAML would turn an unquoted 3.10 into 3.1."""
    assert all(isinstance(v, str) for v in QUESTIONS["python_version"]["choices"])


def test_no_tasks_or_extensions_so_copy_needs_no_trust() -> None:
    """Tasks and Jinja extensions would force --trust on every copy; migrations only on the updates they apply to."""
    assert "_tasks" not in CONFIG
    assert "_jinja_extensions" not in CONFIG


def test_every_migration_is_a_hook_script_with_a_test() -> None:
    """Migrations run stdlib scripts under hooks/migrations/, pinned to a version, and each one is tested."""
    tests = (ROOT / "tests" / "test_update.py").read_text()
    for migration in CONFIG.get("_migrations", []):
        assert set(migration) == {"version", "when", "command"}, migration
        assert re.fullmatch(r"v\d+\.\d+\.\d+", migration["version"])
        (script,) = [
            part.removeprefix("{{ _copier_conf.src_path }}/") for part in migration["command"] if ".py" in part
        ]
        assert (ROOT / script).is_file(), script
        assert f"test_migration_{migration['version'].replace('.', '_')}_" in tests, f"no test for {script}"


def test_conditional_paths_keep_the_suffix_outside_the_condition() -> None:
    """`{% if x %}name{% endif %}.jinja`, never `{% if x %}name.jinja{% endif %}`."""
    bad = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "template").rglob("*")
        if re.search(r"\.jinja\{% endif %\}", p.name) or '"' in p.name
    ]
    assert bad == []


def test_minimum_copier_version_includes_the_security_fixes() -> None:
    """9.17.2 fixed trust bypasses and a sandbox escape."""
    major, minor, patch = (int(x) for x in CONFIG["_min_copier_version"].split("."))
    assert (major, minor, patch) >= (9, 17, 2)


def test_no_question_asks_for_a_secret() -> None:
    """Secrets in answers end up in .copier-answers.yml and in every update's diff."""
    assert not [n for n, q in QUESTIONS.items() if q.get("secret")]
    assert not [n for n in ASKED if re.search(r"key|token|password|secret", n)]


def test_the_readme_table_names_every_asked_question() -> None:
    """Users read the README to decide their answers."""
    readme = (ROOT / "README.md").read_text()
    assert [name for name in ASKED if f"`{name}`" not in readme] == []


IDENTITY = "template/src/{{ package_name }}/project.py.jinja"


def test_python_holds_no_template_logic_outside_the_identity_file() -> None:
    """One program in every render: no `{%` in any Python file of the template but `project.py`,
    and no conditional names inside the package (the answers pick defaults, not modules)."""
    python = [p for p in (ROOT / "template").rglob("*") if p.is_file() and p.name.endswith((".py", ".py.jinja"))]
    assert len(python) > 50  # the walk really sees the template
    with_logic = {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8").count("{%")
        for p in python
        if str(p.relative_to(ROOT)) != IDENTITY and "{%" in p.read_text(encoding="utf-8")
    }
    assert with_logic == {}
    conditional = [str(p.relative_to(ROOT)) for p in python if "{%" in str(p.relative_to(ROOT / "template"))]
    assert conditional == []
