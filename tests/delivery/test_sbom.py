"""`make sbom` in rendered projects: a CycloneDX document, valid against the bundled schema, that lists
exactly the locked packages the image installs (runtime plus the `container` group, no dev group)."""

from __future__ import annotations

import atexit
import copy
import functools
import json
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ..conftest import load_answers, project_env, render

pytestmark = pytest.mark.slow

DEV_ONLY = {"pytest", "pytest-timeout", "hypothesis", "ruff", "mypy"}
WINDOWS_ONLY = {"pywin32", "colorama", "win32-setctime"}


@functools.cache
def sbom_of(name: str) -> tuple[Path, dict[str, Any], str]:
    """Render `name`, lock it and run `make sbom`; the project, the parsed SBOM and its raw text."""
    destination = Path(tempfile.mkdtemp(prefix=f"sbom-{name}-")) / "project"
    atexit.register(shutil.rmtree, destination.parent, ignore_errors=True)
    project = render(destination, load_answers(name))
    env = project_env()
    subprocess.run(["uv", "lock", "--quiet"], cwd=project, env=env, check=True, timeout=300)
    result = subprocess.run(["make", "sbom"], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (project / "sbom.cdx.json").read_text()
    return project, json.loads(text), text


def locked_versions(project: Path) -> dict[str, str]:
    lock = tomllib.loads((project / "uv.lock").read_text())
    return {package["name"]: package["version"] for package in lock["package"] if "version" in package}


def schema_errors(document: dict[str, Any]) -> str | None:
    """The validator's complaint about `document`, or None when it matches its CycloneDX schema."""
    validator = JsonStrictValidator(SchemaVersion.from_version(document["specVersion"]))
    error = validator.validate_str(json.dumps(document))
    return None if error is None else str(error)


def components(document: dict[str, Any]) -> dict[str, str]:
    return {component["name"]: component["version"] for component in document["components"]}


@pytest.mark.parametrize("name", ["full", "minimal"])
def test_the_sbom_is_valid_cyclonedx(name: str) -> None:
    """The document matches the CycloneDX JSON schema of its declared spec version (offline, bundled)."""
    _, document, _ = sbom_of(name)
    assert document["bomFormat"] == "CycloneDX"
    assert schema_errors(document) is None


def test_the_validator_rejects_a_corrupted_sbom() -> None:
    """A wrong component type and a missing component name are schema errors, so the check above can fail."""
    _, document, _ = sbom_of("full")
    wrong_type = copy.deepcopy(document)
    wrong_type["components"][0]["type"] = "not-a-type"
    assert "not-a-type" in (schema_errors(wrong_type) or "")
    nameless = copy.deepcopy(document)
    del nameless["components"][0]["name"]
    assert "'name' is a required property" in (schema_errors(nameless) or "")


@pytest.mark.parametrize("name", ["full", "minimal"])
def test_the_root_component_is_the_project(name: str) -> None:
    """metadata.component names the project with its pyproject version."""
    project, document, _ = sbom_of(name)
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    root = document["metadata"]["component"]
    assert (root["name"], root["version"], root["type"]) == (pyproject["name"], pyproject["version"], "application")


@pytest.mark.parametrize("name", ["full", "minimal"])
def test_every_component_has_the_locked_version(name: str) -> None:
    """Each listed package carries exactly the version uv.lock pins, `mcp` among them."""
    project, document, _ = sbom_of(name)
    locked = locked_versions(project)
    listed = components(document)
    assert listed["mcp"] == locked["mcp"]
    assert {package: locked.get(package) for package in listed} == listed


def locked_hashes(project: Path) -> dict[str, set[str]]:
    lock = tomllib.loads((project / "uv.lock").read_text())
    files = {package["name"]: [*package.get("wheels", []), package.get("sdist", {})] for package in lock["package"]}
    return {
        name: {file["hash"].removeprefix("sha256:") for file in entries if "hash" in file}
        for name, entries in files.items()
    }


def test_every_component_carries_hashes_from_the_lock() -> None:
    """Each component's distribution hashes are SHA-256 digests that uv.lock records for that package."""
    project, document, _ = sbom_of("full")
    locked = locked_hashes(project)
    for component in document["components"]:
        hashes = [h for ref in component.get("externalReferences", []) for h in ref.get("hashes", [])]
        assert hashes, component["name"]
        assert {h["alg"] for h in hashes} == {"SHA-256"}
        assert {h["content"] for h in hashes} <= locked[component["name"]], component["name"]


def test_the_http_stack_is_listed_with_its_locked_versions() -> None:
    """fastapi and uvicorn, the HTTP server the image runs, are in with uv.lock's versions."""
    project, document, _ = sbom_of("full")
    locked, listed = locked_versions(project), components(document)
    for package in ("fastapi", "uvicorn", "starlette"):
        assert listed.get(package) == locked[package], package


def test_the_image_sbom_has_the_container_group_and_no_dev_group() -> None:
    """dumb-init (the `container` group) is in; pytest and the other dev-only tools are not."""
    _, document, _ = sbom_of("full")
    listed = components(document)
    assert "dumb-init" in listed
    assert not DEV_ONLY & set(listed)


def test_the_image_sbom_leaves_out_packages_linux_never_installs() -> None:
    """Markers are evaluated for the image's Linux: Windows-only packages from the lock are not listed."""
    project, document, _ = sbom_of("full")
    assert WINDOWS_ONLY & set(locked_versions(project)), "the lock no longer has a Windows-only package"
    assert not WINDOWS_ONLY & set(components(document))


def test_without_an_image_the_sbom_has_no_container_group() -> None:
    """A project with no Dockerfile has no `container` group, and its SBOM has no dumb-init and no dev tools."""
    _, document, _ = sbom_of("minimal")
    listed = components(document)
    assert "dumb-init" not in listed
    assert not DEV_ONLY & set(listed)


def test_the_sbom_is_reproducible_and_ignored_by_git() -> None:
    """No timestamp or serial number (so reruns diff cleanly), and .gitignore keeps the file out of commits."""
    project, document, _ = sbom_of("full")
    assert "serialNumber" not in document
    assert "timestamp" not in document["metadata"]
    assert "sbom.cdx.json" in (project / ".gitignore").read_text().splitlines()
