"""Supply chain of rendered projects: digest-pinned base images, a Renovate config that really bumps
them, and a CI workflow that builds both platforms, signs what it pushes and audits the lock."""

from __future__ import annotations

import atexit
import functools
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import answer_sets, load_answers, render

PINNED_IMAGE = re.compile(
    r"^ARG (?P<arg>PYTHON_IMAGE|UV_IMAGE)=(?P<name>[^:@\s]+):(?P<tag>[^@\s]+)@sha256:[0-9a-f]{64}$"
)
MAIN_PUSH = "github.event_name == 'push' && github.ref == 'refs/heads/main'"


@functools.cache
def rendered(name: str) -> Path:
    destination = Path(tempfile.mkdtemp(prefix=f"supply-{name}-")) / "project"
    atexit.register(shutil.rmtree, destination.parent, ignore_errors=True)
    return render(destination, load_answers(name))


def answers(name: str) -> dict[str, Any]:
    return {"include_docker": True, "ci_provider": "github", "python_version": "3.11", **load_answers(name)}


WITH_DOCKER = [name for name in answer_sets() if answers(name)["include_docker"]]
WITH_GITHUB = [name for name in answer_sets() if answers(name)["ci_provider"] == "github"]


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((rendered(name) / ".github" / "workflows" / "ci.yml").read_text())


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if step.get("uses", "").split("@")[0] == action]


def test_the_supply_chain_checks_have_answer_sets() -> None:
    """The checks below would pass vacuously if no answer set rendered a Dockerfile or a workflow."""
    assert WITH_DOCKER
    assert WITH_GITHUB


@pytest.mark.parametrize("name", WITH_DOCKER)
def test_base_images_are_pinned_by_tag_and_digest(name: str) -> None:
    """Both base-image ARGs carry a tag and a sha256 digest; the Python tag follows the answered version."""
    lines = (rendered(name) / "Dockerfile").read_text().splitlines()
    pins = {match["arg"]: match for line in lines if (match := PINNED_IMAGE.match(line))}
    assert set(pins) == {"PYTHON_IMAGE", "UV_IMAGE"}, lines[:20]
    assert pins["PYTHON_IMAGE"]["tag"] == f"{answers(name)['python_version']}-slim-bookworm"
    assert pins["UV_IMAGE"]["name"] == "ghcr.io/astral-sh/uv"


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_renovate_replaces_dependabot(name: str) -> None:
    """Renovate pins docker digests; Dependabot, which skips images named in ARG defaults, is not configured."""
    github = rendered(name) / ".github"
    config = json.loads((github / "renovate.json").read_text())
    assert "docker:pinDigests" in config["extends"]
    assert not (github / "dependabot.yml").exists()


def js_regex(pattern: str) -> re.Pattern[str]:
    """A Renovate (JavaScript) regex as Python's re: named groups are spelled (?P<name>...)."""
    return re.compile(pattern.replace("(?<", "(?P<"))


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_every_renovate_regex_manager_finds_its_pin(name: str) -> None:
    """Each custom manager matches a file of the render and extracts the version pinned there."""
    project = rendered(name)
    config = json.loads((project / ".github" / "renovate.json").read_text())
    files = [path.relative_to(project).as_posix() for path in project.rglob("*") if path.is_file()]
    expected = {"cyclonedx-bom": r"cyclonedx-bom==([0-9.]+)", "ghcr.io/astral-sh/uv": r'version: "([0-9.]+)"'}
    for manager in config["customManagers"]:
        patterns = [js_regex(pattern.strip("/")) for pattern in manager["managerFilePatterns"]]
        matched = [file for file in files if any(pattern.search(file) for pattern in patterns)]
        assert matched, manager["description"]
        found = {
            match["currentValue"]
            for file in matched
            for string in manager["matchStrings"]
            for match in js_regex(string).finditer((project / file).read_text())
        }
        pinned = {
            match
            for file in matched
            for match in re.findall(expected[manager["depNameTemplate"]], (project / file).read_text())
        }
        assert found, manager["depNameTemplate"]
        assert found == pinned, (manager["depNameTemplate"], found, pinned)


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_ci_installs_the_uv_of_the_image(name: str) -> None:
    """Every setup-uv step pins `version:` to the uv tag of the Dockerfile's UV_IMAGE (when there is one)."""
    jobs = workflow(name)["jobs"]
    versions = {step["with"]["version"] for job in jobs.values() for step in steps_using(job, "astral-sh/setup-uv")}
    assert len(versions) == 1
    dockerfile = rendered(name) / "Dockerfile"
    if dockerfile.exists():
        assert re.search(
            rf"^ARG UV_IMAGE=ghcr\.io/astral-sh/uv:{re.escape(next(iter(versions)))}@", dockerfile.read_text(), re.M
        )


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_the_image_is_built_for_amd64_and_arm64(name: str) -> None:
    """QEMU and buildx are set up, one build covers both platforms, and the amd64 image is loaded and smoke-tested."""
    image = workflow(name)["jobs"]["image"]
    assert steps_using(image, "docker/setup-qemu-action")
    assert steps_using(image, "docker/setup-buildx-action")
    builds = steps_using(image, "docker/build-push-action")
    platforms = [set(build["with"]["platforms"].split(",")) for build in builds]
    assert {"linux/amd64", "linux/arm64"} in platforms
    loaded = [build for build in builds if build["with"].get("load")]
    assert [build["with"]["platforms"] for build in loaded] == ["linux/amd64"]
    smoke = next(step for step in image["steps"] if step.get("name") == "Smoke test")
    assert loaded[0]["with"]["tags"] in smoke["run"]
    assert image["steps"].index(smoke) > image["steps"].index(loaded[0])


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_the_smoke_step_runs_smoke_against_the_built_image_with_a_masked_key(name: str) -> None:
    """The image's own `smoke` checks the container it started, with a key made for the run (masked),
    and the step is valid bash."""
    image = workflow(name)["jobs"]["image"]
    run = next(step for step in image["steps"] if step.get("name") == "Smoke test")["run"]
    image_tag = "ci/mcp-server:${{ github.sha }}"
    assert f"docker run --rm {image_tag} gen-key --id ci-smoke" in run
    assert f"-e MCP_KEY {image_tag} smoke --url http://127.0.0.1:8000" in run
    assert 'echo "::add-mask::$MCP_KEY"' in run
    assert run.index("::add-mask::") < run.index("docker run -d")
    assert "docker logs mcp; exit 1" in run
    script = run.replace("${{ github.sha }}", "sha")
    checked = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_only_a_push_to_main_publishes_and_signs_the_pushed_digest(name: str) -> None:
    """The publish job runs on main pushes only, pushes both platforms to ghcr.io and cosign-signs that digest."""
    publish = workflow(name)["jobs"]["publish"]
    assert publish["if"] == MAIN_PUSH
    login = steps_using(publish, "docker/login-action")
    assert login
    assert login[0]["with"] == {
        "registry": "ghcr.io",
        "username": "${{ github.actor }}",
        "password": "${{ secrets.GITHUB_TOKEN }}",
    }
    push = next(step for step in steps_using(publish, "docker/build-push-action") if step["with"].get("push") is True)
    assert set(push["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert "ghcr.io/${GITHUB_REPOSITORY,,}" in json.dumps(publish["steps"])
    assert steps_using(publish, "sigstore/cosign-installer")
    sign = next(step for step in publish["steps"] if "cosign sign" in step.get("run", ""))
    assert sign["env"]["DIGEST"] == f"${{{{ steps.{push['id']}.outputs.digest }}}}"
    assert sign["run"].strip() == 'cosign sign --yes "${IMAGE}@${DIGEST}"'
    assert publish["steps"].index(sign) > publish["steps"].index(push)


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_write_and_oidc_tokens_belong_to_the_publish_job_alone(name: str) -> None:
    """Top level keeps contents: read; only publish gets packages: write and id-token: write."""
    document = workflow(name)
    assert document["permissions"] == {"contents": "read"}
    granted = {job: spec.get("permissions") for job, spec in document["jobs"].items() if spec.get("permissions")}
    assert granted == {"publish": {"contents": "read", "packages": "write", "id-token": "write"}}


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_the_sboms_are_built_and_uploaded(name: str) -> None:
    """The image job runs `make sbom`, makes an image SBOM, and uploads both as one artifact."""
    image = workflow(name)["jobs"]["image"]
    assert any(step.get("run", "").strip() == "make sbom" for step in image["steps"])
    image_sbom = steps_using(image, "anchore/sbom-action")
    assert image_sbom
    assert image_sbom[0]["with"]["format"] == "cyclonedx-json"
    upload = steps_using(image, "actions/upload-artifact")
    assert upload
    assert set(upload[0]["with"]["path"].split()) == {"sbom.cdx.json", image_sbom[0]["with"]["output-file"]}
    assert upload[0]["with"]["if-no-files-found"] == "error"


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_the_check_job_audits_the_locked_dependencies(name: str) -> None:
    """pip-audit runs strictly, with hashes, on the export of the whole lockfile."""
    check = workflow(name)["jobs"]["check"]
    audit = next(step for step in check["steps"] if "pip-audit" in step.get("run", ""))
    assert "uv export --locked --all-groups" in audit["run"]
    assert re.search(r"pip-audit==[0-9.]+ pip-audit --strict --require-hashes", audit["run"])
