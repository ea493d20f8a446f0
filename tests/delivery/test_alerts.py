"""The chart's alerts: promtool unit tests for every rule, runbook links both ways, the dashboard's
and the rules' metric names against a live /metrics, and a real Prometheus on 127.0.0.1 scraping a
live render until the error-rate alert fires."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import free_port, load_answers, render, sh, wait_for_healthz
from .test_delivery import WITH_HELM, chart_dir, rendered

helm = pytest.importorskip("helm_python")

RELEASE, NAMESPACE = "release", "mcp"
"""What the shipped promtool tests (charts/*/promtool/alerts.test.yaml) expect the rules rendered as."""
ONLY_UNDER_A_LIMIT = frozenset({"mcp_server_container_cpu_limit_cores", "mcp_server_container_memory_limit_bytes"})
"""Exported only where the cgroup sets a limit (none on a test machine): checked against the source
that exports them instead of a live scrape."""
FROM_ELSEWHERE = {"kube_pod_container_status_restarts_total": "kube-state-metrics"}
"""Names the rules and the dashboard use that the server never exports, with who does."""
START_TIMEOUT = 60.0
FIRE_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def tool(name: str) -> str:
    """A Debian `prometheus` binary: skipped locally without it, a failure in CI."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (Debian package prometheus, see .ci/install-system-packages)"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def rule_groups(chart: Path, **knobs: str) -> dict[str, Any]:
    """The chart's PrometheusRule with `knobs`, as a plain rules file (its spec)."""
    values = {"monitoring": {"prometheusRule": {"enabled": True, **knobs}}}
    with helm.Chart.load(str(chart)) as loaded:
        files = loaded.render(values, name=RELEASE, namespace=NAMESPACE)
    (text,) = (text for key, text in files.items() if key.endswith("/prometheusrule.yaml"))
    spec = yaml.safe_load(text)["spec"]
    assert isinstance(spec, dict)
    return spec


def alerting_rules(groups: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in groups["groups"] for rule in group["rules"] if "alert" in rule]


def metric_names(expr: str) -> set[str]:
    """Every metric a PromQL expression selects (the rules and the dashboard always use `name{...}`)."""
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))


def github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors(project: Path) -> set[str]:
    text = (project / "docs" / "runbook.md").read_text()
    return {github_anchor(heading) for heading in re.findall(r"^## (.+)$", text, re.MULTILINE)}


def write_rules(directory: Path, groups: dict[str, Any]) -> Path:
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(groups, sort_keys=False))
    check = subprocess.run(
        [tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return path


@pytest.mark.parametrize("name", WITH_HELM)
def test_promtool_unit_tests_pass_for_every_rule(name: str, tmp_path: Path) -> None:
    """The shipped promtool tests pass against the rules the chart renders with its defaults."""
    shipped = chart_dir(name) / "promtool" / "alerts.test.yaml"
    shutil.copy(shipped, tmp_path / shipped.name)
    write_rules(tmp_path, rule_groups(chart_dir(name)))
    result = subprocess.run(
        [tool("promtool"), "test", "rules", shipped.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


@pytest.mark.parametrize("name", WITH_HELM)
def test_every_alert_has_a_firing_and_a_silent_case(name: str) -> None:
    """A rule without a case where it fires, or without one where it stays silent, is untested."""
    chart = chart_dir(name)
    cases = yaml.safe_load((chart / "promtool" / "alerts.test.yaml").read_text())["tests"]
    fires: set[str] = set()
    silent: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = {rule["alert"] for rule in alerting_rules(rule_groups(chart))}
    assert len(alerts) >= 9
    assert alerts - fires == set(), "no case where these fire"
    assert alerts - silent == set(), "no case where these stay silent"
    assert (fires | silent) - alerts == set(), "cases for alerts that do not exist"


@pytest.mark.parametrize("name", WITH_HELM)
def test_every_alert_links_its_runbook_section_and_every_section_is_an_alert(name: str) -> None:
    """runbook_url is docs/runbook.md#<section> (or the runbookUrl value's), and the sections are the alerts."""
    chart = chart_dir(name)
    anchors = runbook_anchors(rendered(name))
    linked = set()
    for rule in alerting_rules(rule_groups(chart)):
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page == "docs/runbook.md", url
        assert anchor == github_anchor(rule["alert"]), url
        linked.add(anchor)
    assert anchors == linked
    base = "https://git.example.com/team/server/blob/main/docs/runbook.md"
    for rule in alerting_rules(rule_groups(chart, runbookUrl=base)):
        assert rule["annotations"]["runbook_url"] == f"{base}#{github_anchor(rule['alert'])}"


@pytest.mark.parametrize("name", WITH_HELM)
def test_the_window_and_for_values_reach_every_rule(name: str, tmp_path: Path) -> None:
    """A slow scrape widens every rate window and `for` through the values (the live test shortens them)."""
    groups = rule_groups(chart_dir(name), window="7m", **{"for": "3m"}, flapWindow="29m")
    write_rules(tmp_path, groups)
    for rule in alerting_rules(groups):
        ranges = set(re.findall(r"\[(\w+)\]", rule["expr"]))
        if rule["alert"] == "MCPPodRestarting":  # kube-state-metrics' restarts, not this server's series
            assert ranges == {"15m"}
            continue
        expected = {"MCPReadinessFlapping": {"29m"}, "MCPMemoryHigh": set()}.get(rule["alert"], {"7m"})  # gauges only
        if rule["alert"] == "MCPRateLimitRefusalsSpiking":
            expected |= {"1h"}  # the baseline it compares with
        assert ranges == expected, rule["alert"]
        assert rule.get("for") == (None if rule["alert"] == "MCPReadinessFlapping" else "3m"), rule["alert"]
        # Scoped for a shared Prometheus: every selector names this release's job and namespace.
        selectors = re.findall(r"\{([^}]*)\}", rule["expr"])
        assert selectors, rule["alert"]
        for selector in selectors:
            assert selector.startswith(f'job="{RELEASE}-{chart_dir(name).name}",namespace="{NAMESPACE}"'), selector


def test_the_values_schema_refuses_a_malformed_window() -> None:
    """A window Prometheus would reject fails at install, naming the value."""
    chart = chart_dir(WITH_HELM[0])
    with pytest.raises(helm.HelmValuesError, match="/monitoring/prometheusRule/window"):
        rule_groups(chart, window="five minutes")


# ---- live: a rendered server, its /metrics, and a real Prometheus --------------------------------


@contextmanager
def process_group(
    command: list[str], *, cwd: Path, env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in its own process group, logging to `log`; the group is gone afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


class LiveServer:
    """A rendered server on 127.0.0.1 with its metrics on a port of their own."""

    def __init__(self, project: Path, base: str, metrics_port: int) -> None:
        self.project, self.base, self.metrics_port = project, base, metrics_port

    def scrape(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()

    @property
    def chart(self) -> Path:
        return next(self.project.glob("charts/*/Chart.yaml")).parent


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The open answer set (HTTP, no authentication) with the chart, synced and serving."""
    project = render(tmp_path_factory.mktemp("alerts") / "project", load_answers("open") | {"include_helm": True})
    sh("uv", "sync", "--quiet", "--no-dev", cwd=project, env={**os.environ, "UV_NO_PROGRESS": "1"})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    prefix = answers["env_prefix"]
    port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTEST_", prefix))}
    env |= {f"{prefix}ENVIRONMENT": "development", f"{prefix}OBSERVABILITY__METRICS_PORT": str(metrics_port)}
    command = [str(project / ".venv" / "bin" / "python"), "-m", answers["package_name"], "serve"]
    command += ["--transport", "http", "--host", "127.0.0.1", "--port", str(port)]
    log = project.parent / "server.log"
    with process_group(command, cwd=project, env=env, log=log) as process:
        base = f"http://127.0.0.1:{port}"
        if not wait_for_healthz(base, seconds=START_TIMEOUT, process=process):
            pytest.fail(f"the server did not start:\n{log.read_text()[-4000:]}")
        yield LiveServer(project, base, metrics_port)


def exported_names(exposition: str) -> set[str]:
    """Every sample name a scrape can hold: the families' declared names (a labelled family with no
    child yet shows only there), histogram suffixes, and the samples present."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            names.add(family)
            if kind == "histogram":
                names |= {f"{family}_bucket", f"{family}_count", f"{family}_sum"}
            if kind == "counter" and not family.endswith("_total"):
                names.add(f"{family}_total")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def unknown_names(used: set[str], exported: set[str]) -> set[str]:
    return used - exported - ONLY_UNDER_A_LIMIT - set(FROM_ELSEWHERE)


@pytest.mark.slow
def test_the_dashboard_and_the_rules_use_only_metrics_a_live_server_exports(live: LiveServer) -> None:
    """Every metric name in the Grafana dashboard's queries and in the alert rules is in a live /metrics."""
    exported = exported_names(live.scrape())
    assert "mcp_server_operation_duration_seconds_bucket" in exported
    assert "mcp_server_auth_failures_total" in exported  # declared, though nothing was refused yet
    dashboard = json.loads((live.chart / "dashboards" / "mcp-server.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert len(queries) >= 10
    variables = [variable["query"] for variable in dashboard["templating"]["list"] if variable["type"] == "query"]
    in_dashboard = set().union(*map(metric_names, queries))
    in_dashboard |= {name for query in variables for name in re.findall(r"label_values\((\w+)", query)}
    assert "mcp_server_build_info" in in_dashboard  # the $job variable's
    in_rules = set().union(*(metric_names(rule["expr"]) for rule in alerting_rules(rule_groups(live.chart))))
    assert unknown_names(in_dashboard, exported) == set(), "the dashboard queries metrics nobody exports"
    assert unknown_names(in_rules, exported) == set(), "the rules select metrics nobody exports"
    limits_source = next(live.project.glob("src/*/observability/container_limits.py")).read_text()
    assert [name for name in sorted(ONLY_UNDER_A_LIMIT) if f'"{name}"' not in limits_source] == []
    assert in_rules >= ONLY_UNDER_A_LIMIT, "the CPU and memory alerts compare with the container limits"


FAILING_CALLS = """
import sys, time
import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

async def main(url: str, seconds: float) -> None:
    async with Client(streamable_http_client(url)) as client:
        deadline = time.monotonic() + seconds
        calls = failed = 0
        while time.monotonic() < deadline:
            result = await client.call_tool("read_doc", {"path": "no-such-document.md"})
            calls, failed = calls + 1, failed + bool(result.is_error)
            await client.call_tool("list_notes", {})
            calls += 1
            print(calls, failed, flush=True)
            await anyio.sleep(0.1)

anyio.run(main, sys.argv[1], float(sys.argv[2]))
"""


@pytest.mark.slow
def test_a_real_prometheus_fires_the_error_rate_alert_against_a_live_render(live: LiveServer, tmp_path: Path) -> None:
    """Prometheus scrapes the live server's metrics port with the chart's rules (windows shortened
    through the values); failing tool calls take MCPToolErrorRateHigh to firing."""
    prometheus = tool("prometheus")
    job = f"{RELEASE}-{live.chart.name}"
    write_rules(tmp_path, rule_groups(live.chart, window="15s", **{"for": "3s"}))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yaml"],
        "scrape_configs": [
            {
                "job_name": job,  # as a ServiceMonitor names it: the Service, i.e. the release's fullname
                "static_configs": [{"targets": [f"127.0.0.1:{live.metrics_port}"], "labels": {"namespace": NAMESPACE}}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v1"
    command = [
        prometheus,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with process_group(command, cwd=tmp_path, env=dict(os.environ), log=tmp_path / "prometheus.log") as process:
        deadline = time.monotonic() + START_TIMEOUT
        health = None
        while time.monotonic() < deadline and health != "up" and process.poll() is None:
            time.sleep(0.5)
            try:
                targets = get_json(f"{api}/targets")["data"]["activeTargets"]
            except OSError:  # not listening yet
                continue
            health = targets[0]["health"] if targets else None
        assert health == "up", (tmp_path / "prometheus.log").read_text()[-4000:]
        assert not firing(api, "MCPToolErrorRateHigh"), "fired before any call failed"

        driver_log = tmp_path / "calls.log"
        script = tmp_path / "failing_calls.py"
        script.write_text(FAILING_CALLS)
        driver = [str(live.project / ".venv" / "bin" / "python"), str(script), f"{live.base}/mcp", str(FIRE_TIMEOUT)]
        started = time.monotonic()
        with process_group(driver, cwd=live.project, env=dict(os.environ), log=driver_log) as calls:
            alert = None
            while alert is None and time.monotonic() - started < FIRE_TIMEOUT and calls.poll() is None:
                time.sleep(1)
                alert = firing(api, "MCPToolErrorRateHigh")
        assert alert is not None, f"no firing alert in {FIRE_TIMEOUT} s; calls:\n{driver_log.read_text()[-2000:]}"
    seconds = time.monotonic() - started
    calls_made, calls_failed = map(int, driver_log.read_text().split()[-2:])
    assert calls_failed > 0
    assert alert["labels"] == {
        "alertname": "MCPToolErrorRateHigh",
        "severity": "warning",
        "job": job,
        "namespace": NAMESPACE,
    }
    assert alert["annotations"]["runbook_url"] == "docs/runbook.md#mcptoolerrorratehigh"
    assert float(alert["value"]) > 0.01
    print(f"MCPToolErrorRateHigh firing after {seconds:.1f} s of calls ({calls_made}, {calls_failed} isError):")
    print(json.dumps(alert, indent=2))


def firing(api: str, name: str) -> dict[str, Any] | None:
    """The firing alert called `name` in Prometheus's /api/v1/alerts, if there is one."""
    alerts = get_json(f"{api}/alerts")["data"]["alerts"]
    return next((a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"), None)
