"""Real clients against a rendered project: the official TypeScript client and the MCP Inspector CLI.

The `default` answer set (API keys) is served over Streamable HTTP with a key made by the project's
own `gen-key`, and over stdio. The TypeScript client (client_smoke.mjs) runs in legacy mode
(2025-11-25) and auto mode (2026-07-28) on both transports: it lists tools, calls every example
tool, reads resources, gets the prompt and sees a tool error as `isError`. HTTP refuses a missing
or wrong key with 401. The Inspector CLI lists tools and calls one over HTTP (with the key in a
header) and over stdio. Assertions are on the JSON the clients print.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import sh
from .conftest import NodeTools, Project, rendered, served_project

pytestmark = [pytest.mark.interop, pytest.mark.slow]

CLIENT_TIMEOUT_MS = 15_000
PROCESS_TIMEOUT = 90
ERAS = {"legacy": "2025-11-25", "auto": "2026-07-28"}
EXAMPLE_TOOLS = ["build_report", "delete_note", "list_notes", "read_doc", "search_notes"]
SCOPES = ("notes:read", "notes:write", "docs:read", "reports:read")
DELETED = {"legacy": "n-004", "auto": "n-005"}
"""Each HTTP run deletes a different note: the server (and its notes) is shared by both runs."""


@pytest.fixture(scope="module")
def project() -> Project:
    return rendered("default")


@pytest.fixture(scope="module")
def api_key(project: Project) -> tuple[str, str]:
    """(key, its AUTH__API_KEYS entry as JSON), from the project's own `gen-key`."""
    args = [str(project.python), "-m", project.package, "gen-key", "--id", "interop"]
    output = sh(*args, *(f"--scope={scope}" for scope in SCOPES), cwd=project.path, env=project.env()).stdout
    key = re.search(r"^\s*(mcpk_\S+)\s*$", output, re.MULTILINE)
    entry = re.search(r"^\s*(\{.*\})\s*$", output, re.MULTILINE)
    assert key, output
    assert entry, output
    return key[1], entry[1]


@pytest.fixture(scope="module")
def server(project: Project, api_key: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The project's HTTP server accepting `api_key`; yields its base URL."""
    with served_project(project, tmp_path_factory.mktemp("serve"), AUTH__API_KEYS=f"[{api_key[1]}]") as url:
        yield url


def stdio_target(project: Project) -> dict[str, Any]:
    """How a client starts the project over stdio: the venv's python, the package as a module."""
    return {
        "type": "stdio",
        "command": str(project.python),
        "args": ["-m", project.package, "serve", "--transport", "stdio"],
        "env": project.env(ENVIRONMENT="development"),
        "cwd": str(project.path),
    }


def smoke(node: NodeTools, tmp_path: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """Run client_smoke.mjs with `plan` and return the JSON it printed."""
    result = subprocess.run(
        [str(node.node), str(node.script("client_smoke.mjs"))],
        input=json.dumps({"timeoutMs": CLIENT_TIMEOUT_MS, **plan}),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        env=node.env(tmp_path),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def full_plan(doomed_note: str) -> dict[str, Any]:
    """Every example tool with valid arguments, one tool error, resources and the prompt."""
    return {
        "calls": [
            {"name": "search_notes", "arguments": {"query": "release"}},
            {"name": "list_notes", "arguments": {"page_size": 2}},
            {"name": "build_report", "arguments": {"topic": "interop", "sections": 2}},
            {"name": "read_doc", "arguments": {"path": "guides/intro.md"}},
            {"name": "delete_note", "arguments": {"note_id": doomed_note, "idempotency_key": f"interop-{doomed_note}"}},
            {"name": "delete_note", "arguments": {"note_id": "n-999", "idempotency_key": "interop-missing"}},
        ],
        "resources": ["notes://guide", "notes://n-001", "docs://welcome.md"],
        "prompts": [{"name": "summarize_note", "arguments": {"note_id": "n-001"}}],
    }


def assert_full_session(report: dict[str, Any], mode: str) -> None:
    """The negotiated era, the listed tools, five good calls and one tool error, resources, prompt."""
    assert report["ok"], report
    assert report["protocolVersion"] == ERAS[mode], report
    assert report["server"]["name"] == "notes-mcp"
    assert report["tools"] == EXAMPLE_TOOLS
    *good, missing = report["calls"]
    assert [call["name"] for call in good if call["isError"]] == [], good
    assert missing["isError"], missing
    assert "No note has id 'n-999'" in missing["text"], missing
    assert '"Release checklist"' in good[0]["text"]
    assert all(resource["chars"] > 0 and resource["mimeType"] == "text/markdown" for resource in report["resources"])
    assert report["prompts"] == [{"name": "summarize_note", "messages": 1}]


@pytest.mark.parametrize("mode", ERAS)
def test_typescript_client_over_http(
    mode: str, server: str, api_key: tuple[str, str], node_tools: NodeTools, tmp_path: Path
) -> None:
    """Streamable HTTP with the key as a bearer token, in each negotiation mode."""
    target = {"type": "http", "url": f"{server}/mcp", "token": api_key[0]}
    report = smoke(node_tools, tmp_path, {"transport": target, "mode": mode, **full_plan(DELETED[mode])})
    assert_full_session(report, mode)


@pytest.mark.parametrize("mode", ERAS)
def test_typescript_client_over_stdio(mode: str, project: Project, node_tools: NodeTools, tmp_path: Path) -> None:
    """`python -m <package> serve --transport stdio` started by the client, in each negotiation mode."""
    report = smoke(node_tools, tmp_path, {"transport": stdio_target(project), "mode": mode, **full_plan("n-005")})
    assert_full_session(report, mode)


@pytest.mark.parametrize("mode", ERAS)
def test_typescript_client_without_a_key_is_refused(
    mode: str, server: str, node_tools: NodeTools, tmp_path: Path
) -> None:
    """No credential: the connection fails with HTTP 401 before any tool is listed."""
    report = smoke(node_tools, tmp_path, {"transport": {"type": "http", "url": f"{server}/mcp"}, "mode": mode})
    assert not report["ok"], report
    assert report["stage"] == "connect"
    assert report["error"]["status"] == 401, report


def test_a_wrong_key_is_refused(server: str, node_tools: NodeTools, tmp_path: Path) -> None:
    """A well-formed but unknown key: the client gives up as unauthorized, the raw answer is 401."""
    target = {"type": "http", "url": f"{server}/mcp", "token": "mcpk_" + "x" * 43}
    report = smoke(node_tools, tmp_path, {"transport": target, "mode": "legacy"})
    assert not report["ok"], report
    assert report["error"]["name"] == "UnauthorizedError", report
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    request = urllib.request.Request(
        f"{server}/mcp",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {target['token']}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    with refused.value:
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


def inspector(node: NodeTools, tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """`mcp-inspector --cli --format json <args>`; returns its exit code and the JSON it printed
    (the result on stdout, or the error envelope on stderr)."""
    command = [str(node.bin("mcp-inspector")), "--cli", "--format", "json", "--connect-timeout", "15000", *args]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=PROCESS_TIMEOUT, env=node.env(tmp_path), check=False
    )
    output = (result.stdout.strip() or result.stderr.strip()).splitlines()
    assert output, f"rc={result.returncode}, no output"
    document: dict[str, Any] = json.loads(output[-1])
    return result.returncode, document


def assert_inspector_lists_and_calls(node: NodeTools, tmp_path: Path, target: list[str]) -> None:
    """tools/list shows the example tools; tools/call returns search results; legacy by default,
    and the modern era's result carries the server info in `_meta`."""
    code, listed = inspector(node, tmp_path, "--method", "tools/list", *target)
    assert code == 0, listed
    assert sorted(tool["name"] for tool in listed["result"]["tools"]) == EXAMPLE_TOOLS
    call = ["--method", "tools/call", "--tool-name", "search_notes", "--tool-args-json", '{"query": "release"}']
    for era in ("legacy", "modern"):
        code, called = inspector(node, tmp_path, "--protocol-era", era, *call, *target)
        assert code == 0, called
        result = called["result"]
        assert result["isError"] is False
        assert [note["id"] for note in result["structuredContent"]["notes"]] == ["n-001"]
        server_info = result.get("_meta", {}).get("io.modelcontextprotocol/serverInfo")
        assert (server_info or {}).get("name") == ("notes-mcp" if era == "modern" else None), result


def test_inspector_cli_over_http(server: str, api_key: tuple[str, str], node_tools: NodeTools, tmp_path: Path) -> None:
    """With the key in an Authorization header; without it the Inspector reports that auth is required."""
    url = ["--transport", "http", f"{server}/mcp"]
    assert_inspector_lists_and_calls(node_tools, tmp_path, ["--header", f"Authorization: Bearer {api_key[0]}", *url])
    code, refused = inspector(node_tools, tmp_path, "--method", "tools/list", *url)
    assert code != 0
    assert refused["error"]["code"] == "auth_required", refused


def test_inspector_cli_over_stdio(project: Project, node_tools: NodeTools, tmp_path: Path) -> None:
    """The Inspector starts `python -m <package> serve --transport stdio` itself."""
    command = [str(project.python), "-m", project.package, "serve", "--transport", "stdio"]
    target = ["-e", f"{project.prefix}ENVIRONMENT=development", "--cwd", str(project.path), "--transport", "stdio"]
    assert_inspector_lists_and_calls(node_tools, tmp_path, [*target, "--", *command])
