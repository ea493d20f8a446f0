"""Answers: validators refuse bad input with a clear reason; skipped questions leave no trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import render


def answers_file(project: Path) -> dict[str, Any]:
    data = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"package_name": "mcp"}, "shadows", id="package-shadows-the-sdk"),
        pytest.param({"package_name": "json"}, "shadows", id="package-shadows-stdlib"),
        pytest.param({"package_name": "Bad-Name"}, "lowercase Python identifier", id="package-not-identifier"),
        pytest.param({"project_slug": "-x"}, "1-53 characters", id="slug-shape"),
        pytest.param({"project_name": "!!!"}, "1-63 characters", id="name-shape"),
        pytest.param(
            {"project_name": "天气服务"}, 'derived from the project name "天气服务": give one', id="name-no-slug"
        ),
        pytest.param({"user_email": "nope"}, "email address", id="email"),
        pytest.param({"env_prefix": "lower_"}, "uppercase", id="env-prefix"),
        pytest.param({"description": 'say "hi"'}, "quotes", id="description-quotes"),
        pytest.param({"copyright_year": "26"}, "four-digit", id="year"),
        pytest.param({"auth_mode": "none"}, "must be acknowledged", id="http-without-auth-unacknowledged"),
    ],
)
def test_invalid_answers_are_refused_with_a_reason(tmp_path: Path, data: dict[str, Any], message: str) -> None:
    """Each validator names what was wrong and what is accepted; nothing is left behind."""
    dst = tmp_path / "out"
    with pytest.raises(ValueError, match=message):
        render(dst, data)
    assert not dst.exists()


def test_a_name_with_accents_keeps_them_and_derives_an_ascii_slug(tmp_path: Path) -> None:
    """Letters of any language are letters; the slug and package are their ASCII base letters."""
    project = render(tmp_path / "out", {"project_name": "Météo Straße"})
    answers = answers_file(project)
    assert (answers["project_name"], answers["project_slug"]) == ("Météo Straße", "meteo-strasse")
    assert answers["package_name"] == "meteo_strasse"
    assert "Météo Straße" in (project / "README.md").read_text(encoding="utf-8")


def test_an_unknown_choice_is_refused(tmp_path: Path) -> None:
    """Choices are closed sets."""
    with pytest.raises(ValueError, match="auth_mode"):
        render(tmp_path / "out", {"auth_mode": "kerberos"})


def test_defaults_render_an_authenticated_http_and_stdio_server(tmp_path: Path) -> None:
    """The default answers: both transports, API keys, memory rate limits, Docker, GitHub CI, MIT."""
    answers = answers_file(render(tmp_path / "my-server", {}))
    assert answers["transports"] == "http+stdio"
    assert answers["auth_mode"] == "api_key"
    assert answers["license"] == "MIT"
    assert answers["project_name"] == "My Server"
    assert answers["package_name"] == "my_server"


def test_stdio_only_skips_http_questions_and_records_none_of_them(tmp_path: Path) -> None:
    """Skipped questions are not recorded and do not leak their defaults: the project speaks stdio
    unless told otherwise, and its HTTP side (there in every project) defaults to no auth."""
    project = render(tmp_path / "p", {"transports": "stdio"})
    answers = answers_file(project)
    for skipped in ("auth_mode", "rate_limit_backend", "include_helm", "acknowledge_no_auth"):
        assert skipped not in answers
    identity = (project / "src" / "p" / "project.py").read_text()
    assert 'DEFAULT_TRANSPORT: Final[Literal["http", "stdio"]] = "stdio"' in identity
    assert '= "none"' in identity.split("AUTH_MODE", 1)[1].splitlines()[0]
    assert "redis>=" not in (project / "pyproject.toml").read_text().split("[project.optional-dependencies]")[0]


def test_http_without_auth_needs_the_acknowledgement(tmp_path: Path) -> None:
    """auth_mode=none over HTTP renders only with acknowledge_no_auth=true, and then defaults
    AUTH__MODE to none."""
    project = render(tmp_path / "p", {"auth_mode": "none", "acknowledge_no_auth": True})
    assert answers_file(project)["acknowledge_no_auth"] is True
    identity = (project / "src" / "p" / "project.py").read_text()
    assert '= "none"' in identity.split("AUTH_MODE", 1)[1].splitlines()[0]


def test_helm_needs_docker(tmp_path: Path) -> None:
    """include_helm is not asked without a Dockerfile, and no chart is rendered."""
    project = render(tmp_path / "p", {"include_docker": False, "include_helm": True})
    assert "include_helm" not in answers_file(project)
    assert not (project / "charts").exists()
