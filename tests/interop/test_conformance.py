"""The official MCP conformance suite against a rendered project's HTTP server.

The `open` answer set (no authentication: the suite sends no credentials) is served by its test
server (`python -m tests.fixture_server`), so the fixtures in `tests/fixtures/conformance.py` answer
the suite's scenarios. Every
scenario runs (`--suite all`); the checked-in baseline lists the ones that fail by design, each with
its reason. The test fails on an unexpected failure and on a baseline entry that passes.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import NodeTools, Project, rendered, served_project

pytestmark = [pytest.mark.interop, pytest.mark.slow]

BASELINE = Path(__file__).with_name("conformance-expected-failures.yml")
ENTRY = re.compile(r"^\s*-\s*(?P<scenario>[\w-]+)\s+#\s*(?P<reason>\S.*)$")
STATELESS_TAG = "[stateless]"
SUITE_TIMEOUT = 240
MIN_SCENARIOS = 30
"""The pinned suite has 32 server scenarios; far fewer means the run broke, not that we passed."""
FIXTURE_TOOLS = {"test_simple_text", "test_image_content", "test_error_handling", "test_sampling"}
FIXTURE_SETTINGS = {
    # The suite opens a connection per scenario in about a second, all as one anonymous caller.
    "LIMITS__PER_PRINCIPAL_RATE": "1000",
    "LIMITS__PER_PRINCIPAL_BURST": "2000",
    # With the stateful leg each scenario opens a session and none ends it: one caller, ~40 sessions.
    "LIMITS__MAX_SESSIONS_PER_PRINCIPAL": "200",
}
CONFIGURATIONS = {
    "default": {},
    "stateful": {"HTTP__STATELESS_LEGACY": "false"},
}


@pytest.fixture(scope="module")
def project() -> Project:
    return rendered("open")


def baseline_entries() -> dict[str, str]:
    """Scenario -> reason, from the baseline's `- scenario # reason` lines."""
    entries = {}
    for line in BASELINE.read_text().splitlines():
        match = ENTRY.match(line)
        if match:
            entries[match["scenario"]] = match["reason"]
    return entries


def expected_failures(config: str) -> list[str]:
    """The baseline for `config`: the stateful run expects the [stateless] entries to pass."""
    entries = baseline_entries()
    if config == "stateful":
        return [name for name, reason in entries.items() if not reason.startswith(STATELESS_TAG)]
    return list(entries)


def scenario_results(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Each scenario's checks, from the `<out>/server-<scenario>-<timestamp>/checks.json` files."""
    results = {}
    for checks in sorted(out.glob("server-*/checks.json")):
        scenario = re.sub(r"^server-|-\d{4}-\d{2}-\d{2}T[\d-]+Z$", "", checks.parent.name)
        results[scenario] = json.loads(checks.read_text())
    return results


def failed(checks: list[dict[str, Any]]) -> bool:
    """The suite's own baseline rule: any FAILURE or WARNING check fails the scenario."""
    return any(check["status"] in {"FAILURE", "WARNING"} for check in checks)


def run_suite(node: NodeTools, url: str, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`conformance server --url <url>/mcp <args>`; returns the run and its results directory."""
    out = tmp_path / "results"
    command = [str(node.bin("conformance")), "server", "--url", f"{url}/mcp", "-o", str(out), *args]
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=SUITE_TIMEOUT, env=node.env(home), cwd=tmp_path, check=False
    )
    return result, out


def test_the_baseline_gives_every_entry_a_reason() -> None:
    """The file the CLI reads and the reasons we keep list the same scenarios."""
    listed = yaml.safe_load(BASELINE.read_text())["server"]
    assert listed == list(baseline_entries()), "every `- scenario` line needs a `# reason`"
    assert len(set(listed)) == len(listed)


@pytest.mark.parametrize("config", CONFIGURATIONS)
def test_the_conformance_suite_passes_but_for_the_baseline(
    config: str, project: Project, node_tools: NodeTools, tmp_path: Path
) -> None:
    """All scenarios, against the default settings and against a stateful legacy leg."""
    expected = expected_failures(config)
    baseline = tmp_path / "expected-failures.yml"
    baseline.write_text(yaml.safe_dump({"server": expected}))
    settings = FIXTURE_SETTINGS | CONFIGURATIONS[config]
    with served_project(project, tmp_path, fixtures=True, **settings) as url:
        result, out = run_suite(node_tools, url, tmp_path, "--suite", "all", "--expected-failures", str(baseline))
    results = scenario_results(out)
    failing = sorted(name for name, checks in results.items() if failed(checks))
    passing = sorted(set(results) - set(failing))
    print(f"\nconformance ({config} settings): {len(passing)} of {len(results)} scenarios pass; failing: {failing}")
    log = result.stdout[-6000:] + result.stderr[-2000:]
    assert len(results) >= MIN_SCENARIOS, log
    assert sorted(set(failing) - set(expected)) == [], f"unexpected failures\n{log}"
    assert sorted(set(expected) - set(failing)) == [], f"baseline entries that now pass: remove them\n{log}"
    assert result.returncode == 0, log
    listed = set(results["tools-list"][0]["details"]["tools"])
    assert listed >= FIXTURE_TOOLS


def test_the_served_project_lists_only_its_own_tools(project: Project, node_tools: NodeTools, tmp_path: Path) -> None:
    """`serve` itself has no test_* or probe_* tool (the fixtures live in tests/): the project's own and the canary."""
    with served_project(project, tmp_path) as url:
        result, out = run_suite(node_tools, url, tmp_path, "--scenario", "tools-list")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    tools = set(scenario_results(out)["tools-list"][0]["details"]["tools"])
    examples = (
        "search_notes",
        "list_notes",
        "delete_note",
        "build_report",
        "read_doc",
        "get_forecast",
        "get_forecasts",
        "delete_note_with_confirmation",
        "suggest_note_title",
    )
    assert tools == {*examples, "canary"}
    assert not [name for name in tools if name.startswith(("test_", "probe_", "json_schema"))]
