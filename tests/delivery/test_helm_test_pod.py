"""The chart's `helm test` pod, run for real: its exact arguments and its ConfigMap's settings,
against a live render (no cluster here, so only the Service's address is swapped for 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .test_alerts import LiveServer, live  # noqa: F401  (the live render, reused as a fixture)
from .test_delivery import manifests

pytestmark = pytest.mark.slow


def pod_command_and_settings(chart: Path, values: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The helm test container's arguments and the settings its ConfigMap gives it."""
    docs = manifests(chart, values)
    pod = next(d for d in docs if d["kind"] == "Pod" and "test" in d["metadata"]["annotations"]["helm.sh/hook"])
    [container] = pod["spec"]["containers"]
    [source] = container["envFrom"]
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == source["configMapRef"]["name"]
    )
    return container["args"], {key: str(value) for key, value in config["data"].items()}


def run_in_place_of_the_pod(live: LiveServer, args: list[str], settings: dict[str, str], service: str) -> str:  # noqa: F811
    """Run the pod's command line with the Service's address pointing at the live server."""
    port = live.base.rsplit(":", 1)[1]
    swapped = [
        arg.replace(f"http://{service}:80", f"http://127.0.0.1:{port}").replace(
            f"http://{service}:9464", f"http://127.0.0.1:{live.metrics_port}"
        )
        for arg in args
    ]
    assert swapped != args, f"the pod does not call the Service {service}: {args}"
    package = yaml.safe_load((live.project / ".copier-answers.yml").read_text())["package_name"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTEST_"))}
    command = [str(live.project / ".venv" / "bin" / "python"), "-m", package, *swapped]
    result = subprocess.run(
        command, cwd=live.project, env=env | settings, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_helm_test_pod_passes_against_a_live_server(live: LiveServer) -> None:  # noqa: F811
    """Several replicas (the chart's default): every check but the metrics count passes; one pod:
    the count on its metrics port is checked too."""
    service = "release-" + live.chart.name
    args, settings = pod_command_and_settings(live.chart, {})
    out = run_in_place_of_the_pod(live, args, settings, service)
    assert "canary round trip" in out
    assert "skipped metrics counted" in " ".join(out.split()), out
    assert "--skip-metrics: the scrape could reach a replica" in out  # skipped by the chart, not by chance
    assert out.strip().splitlines()[-1].startswith("smoke passed:"), out

    one_pod = {"replicaCount": 1, "autoscaling": {"enabled": False}}
    args, settings = pod_command_and_settings(live.chart, one_pod)
    out = run_in_place_of_the_pod(live, args, settings, service)
    assert "ok metrics counted" in " ".join(out.split()), out
