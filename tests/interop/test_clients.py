"""Real clients against a rendered project: the official TypeScript client and the MCP Inspector CLI.

The `default` answer set (API keys) is served over Streamable HTTP with a key made by the project's
own `gen-key`, and over stdio. The TypeScript client (client_smoke.mjs) runs in legacy mode
(2025-11-25) and auto mode (2026-07-28) on both transports: it lists tools, calls every example
tool, reads resources, gets the prompt and sees a tool error as `isError`. HTTP refuses a missing
or wrong key with 401. The Inspector CLI lists tools and calls one over HTTP (with the key in a
header) and over stdio. Assertions are on the JSON the clients print.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
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
EXAMPLE_TOOLS = [
    "build_report",
    "canary",
    "delete_note",
    "delete_note_with_confirmation",
    "get_forecast",
    "get_forecasts",
    "list_notes",
    "read_doc",
    "search_notes",
    "suggest_note_title",
]
"""The example tools and the template's canary, sorted."""
SCOPES = ("notes:read", "notes:write", "docs:read", "reports:read", "forecasts:read")
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


@pytest.fixture(scope="module")
def stateful_server(
    project: Project, api_key: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The same server with legacy sessions (the back channel elicitation needs before 2026-07-28)
    and change notifications on; its own notes, so the deletions here touch no other test."""
    settings = {"AUTH__API_KEYS": f"[{api_key[1]}]", "HTTP__STATELESS_LEGACY": "false", "HTTP__SUBSCRIPTIONS": "true"}
    with served_project(project, tmp_path_factory.mktemp("serve-stateful"), **settings) as url:
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
            {"name": "build_report", "arguments": {"topic": "interop", "sections": 2}, "progress": True},
            {"name": "read_doc", "arguments": {"path": "guides/intro.md"}},
            {"name": "delete_note", "arguments": {"note_id": doomed_note, "idempotency_key": f"interop-{doomed_note}"}},
            {"name": "delete_note", "arguments": {"note_id": "n-999", "idempotency_key": "interop-missing"}},
        ],
        "resources": ["notes://guide", "notes://n-001", "docs://welcome.md"],
        "prompts": [{"name": "summarize_note", "arguments": {"note_id": "n-001"}}],
    }


def assert_full_session(report: dict[str, Any], mode: str) -> None:
    """The negotiated era, the listed tools, five good calls (progress from the long-running one)
    and one tool error, resources, prompt."""
    assert report["ok"], report
    assert report["protocolVersion"] == ERAS[mode], report
    assert report["server"]["name"] == "notes-mcp"
    assert report["tools"] == EXAMPLE_TOOLS
    *good, missing = report["calls"]
    assert [call["name"] for call in good if call["isError"]] == [], good
    assert missing["isError"], missing
    assert "No note has id 'n-999'" in missing["text"], missing
    assert '"Release checklist"' in good[0]["text"]
    # The long-running example streams its progress (SSE); the quick ones answer with one JSON body.
    assert [call["progress"] for call in good if call["name"] == "build_report"] == [[1, 2]], good
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
    # The long-running example answers on the SSE path (its tool takes a Context): the Inspector
    # takes that framing in both eras too. Its CLI prints no progress; the TypeScript client's
    # tests assert the progress itself.
    arguments = '{"topic": "i", "sections": 2}'
    report = ["--method", "tools/call", "--tool-name", "build_report", "--tool-args-json", arguments]
    for era in ("legacy", "modern"):
        code, called = inspector(node, tmp_path, "--protocol-era", era, *report, *target)
        assert code == 0, called
        assert called["result"]["isError"] is False, called
        assert called["result"]["structuredContent"]["topic"] == "i", called
        assert len(called["result"]["structuredContent"]["sections"]) == 2, called


def test_inspector_cli_over_http(server: str, api_key: tuple[str, str], node_tools: NodeTools, tmp_path: Path) -> None:
    """With the key in an Authorization header; without it the Inspector reports that auth is required."""
    url = ["--transport", "http", f"{server}/mcp"]
    assert_inspector_lists_and_calls(node_tools, tmp_path, ["--header", f"Authorization: Bearer {api_key[0]}", *url])
    code, refused = inspector(node_tools, tmp_path, "--method", "tools/list", *url)
    assert code != 0
    assert refused["error"]["code"] == "auth_required", refused


@pytest.fixture(scope="module")
def subscribed_server(
    project: Project, api_key: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A stateful server with change notifications, and notes of its own for the Inspector to watch."""
    settings = {"AUTH__API_KEYS": f"[{api_key[1]}]", "HTTP__STATELESS_LEGACY": "false", "HTTP__SUBSCRIPTIONS": "true"}
    with served_project(project, tmp_path_factory.mktemp("serve-watched"), **settings) as url:
        yield url


INSPECTOR_NOTES = {"legacy": ("n-001", "n-002"), "modern": ("n-003", "n-004")}
"""Notes of `subscribed_server` each era deletes: one after an elicitation, one watched."""


@pytest.mark.parametrize("era", INSPECTOR_NOTES)
def test_inspector_answers_an_elicitation_and_hears_about_a_subscribed_note(
    era: str, subscribed_server: str, api_key: tuple[str, str], node_tools: NodeTools, tmp_path: Path
) -> None:
    """The Inspector's connection CLI (`mcpdo`; its one-shot `--cli` advertises no elicitation and
    cannot subscribe) in each era: the user confirms a deletion the server asked about (the legacy
    session's back channel, or a 2026-07-28 input-required result), and a subscription to a note
    (resources/subscribe, or a listen stream) prints its update when the note is deleted."""
    confirmed, watched = INSPECTOR_NOTES[era]
    with Mcpdo(node_tools, tmp_path) as mcpdo:
        connected = mcpdo.run(
            "connect", f"{subscribed_server}/mcp", "--era", era, "--elicit", "form",
            "--header", f"Authorization: Bearer {api_key[0]}",
        )  # fmt: skip
        assert connected["protocolEra"] == era, connected
        asked = mcpdo.run("tools/call", "delete_note_with_confirmation", f"note_id:={confirmed}")
        pending = asked["elicitationPending"]
        assert confirmed in pending["message"], asked
        assert pending["requestedSchema"]["required"] == ["confirm"], asked
        answered = mcpdo.run("elicitation/respond", pending["elicitationId"], "confirm:=true")
        assert answered["structuredContent"] == {"deleted": True, "note_id": confirmed, "reason": "the user confirmed"}

        with mcpdo.stream("resources/subscribe", f"notes://{watched}") as objects:
            assert next(objects) == {"type": "subscribed", "uri": f"notes://{watched}"}
            key = f"idempotency_key:=inspector-watch-{watched}"
            deleted = mcpdo.run("tools/call", "delete_note", f"note_id:={watched}", key)
            assert deleted["isError"] is False, deleted
            assert next(objects) == {"type": "resources/updated", "uri": f"notes://{watched}"}


class Mcpdo:
    """`mcpdo --format json` with a private daemon of its own (`mcpdo private`), stopped, and
    checked gone, on exit; every process it starts is in a group of its own."""

    def __init__(self, node: NodeTools, home: Path) -> None:
        self.binary = str(node.bin("mcpdo"))
        self.env = node.env(home) | {"MCP_INSPECTOR_SECRET_STORE": "file"}
        self.cwd = home
        self.connection: str | None = None
        self.daemon_pid: int | None = None

    def __enter__(self) -> Mcpdo:
        exports = self._call("private").stdout
        self.env |= dict(re.findall(r"^export (\w+)='([^']*)'$", exports, re.MULTILINE))
        assert "MCP_INSPECTOR_DAEMON_DIR" in self.env, exports
        return self

    def __exit__(self, *_exc: object) -> None:
        status = self._call("--format", "json", "daemon", "status")
        with contextlib.suppress(ValueError):
            self.daemon_pid = json.loads(status.stdout).get("pid")
        self._call("daemon", "stop")
        if self.daemon_pid is not None:
            deadline = time.monotonic() + 10
            while Path(f"/proc/{self.daemon_pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            if Path(f"/proc/{self.daemon_pid}").exists():
                os.kill(self.daemon_pid, signal.SIGKILL)
                raise AssertionError(f"the mcpdo daemon {self.daemon_pid} outlived `daemon stop`")

    def _call(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
            check=False,
            start_new_session=True,
        )

    def named(self) -> list[str]:
        """The connection option, once `connect` has named one (mcpdo wants it outside a TTY)."""
        return ["--connection", self.connection] if self.connection else []

    def run(self, *args: str) -> dict[str, Any]:
        """One command's JSON answer (an `error` answer fails the test)."""
        done = self._call("--format", "json", *self.named(), *args)
        document: dict[str, Any] = json.loads(done.stdout or done.stderr.strip().splitlines()[-1])
        assert "error" not in document, (args, document, done.stderr[-2000:])
        if args[0] == "connect":
            self.connection = document["name"]
        return document

    @contextlib.contextmanager
    def stream(self, *args: str) -> Iterator[Iterator[dict[str, Any]]]:
        """A streaming command (it runs until stopped): an iterator of the JSON objects it prints,
        each awaited for at most PROCESS_TIMEOUT; the command is killed on exit."""
        process = subprocess.Popen(
            [self.binary, "--format", "json", *self.named(), *args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        chunks: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [chunks.put(line) for line in process.stdout or ()], daemon=True)
        reader.start()

        def objects() -> Iterator[dict[str, Any]]:
            buffered, decoder = "", json.JSONDecoder()
            while True:
                text = buffered.lstrip()
                if text:
                    try:
                        document, end = decoder.raw_decode(text)
                    except ValueError:
                        pass
                    else:
                        buffered = text[end:]
                        yield document
                        continue
                try:
                    buffered += chunks.get(timeout=PROCESS_TIMEOUT)
                except queue.Empty:
                    raise AssertionError(f"{args} printed nothing more in {PROCESS_TIMEOUT} s: {buffered!r}") from None

        try:
            yield objects()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            reader.join(timeout=10)  # the pipe is at its end once the process is gone
            if process.stdout is not None:
                process.stdout.close()


def test_inspector_cli_over_stdio(project: Project, node_tools: NodeTools, tmp_path: Path) -> None:
    """The Inspector starts `python -m <package> serve --transport stdio` itself."""
    command = [str(project.python), "-m", project.package, "serve", "--transport", "stdio"]
    target = ["-e", f"{project.prefix}ENVIRONMENT=development", "--cwd", str(project.path), "--transport", "stdio"]
    assert_inspector_lists_and_calls(node_tools, tmp_path, [*target, "--", *command])


def run_in_project(
    project: Project, node: NodeTools, home: Path, command: list[str], **env: str
) -> subprocess.CompletedProcess[str]:
    """`command` in the project directory with Node 22 first on PATH, HOME in `home`, the project's
    venv as it is (UV_NO_SYNC: the interop render has no dev group to sync) and `env`; every process
    it starts is in its own group, killed when it is done."""
    path = f"{node.node.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    environment = project.env() | {"PATH": path, "HOME": str(home), "NO_COLOR": "1", "UV_NO_SYNC": "1"} | env
    environment["npm_config_update_notifier"] = "false"
    process = subprocess.Popen(
        command,
        cwd=project.path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=PROCESS_TIMEOUT)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def uv_without_sync(home: Path) -> Path:
    """A `uv` that never syncs: the Inspector starts the stdio server with a minimal environment
    (no UV_NO_SYNC), and a sync would fetch the dev group the interop render leaves out."""
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    wrapper = home / "uv-no-sync"
    wrapper.write_text(f'#!/bin/sh\nUV_NO_SYNC=1 exec "{uv}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def make_inspect(project: Project, node: NodeTools, home: Path, *variables: str, **env: str) -> tuple[int, str, str]:
    """`make inspect` with the installed Inspector 2.12.0 in CLI mode; (exit code, stdout, stderr)."""
    inspector = f"INSPECTOR={node.bin('mcp-inspector')}"
    command = ["make", "inspect", f"UV={uv_without_sync(home)}", inspector, *variables]
    result = run_in_project(project, node, home, command, **env)
    return result.returncode, result.stdout, result.stderr


def last_json(output: str) -> dict[str, Any]:
    """The last JSON line the Inspector printed (make adds its own lines around it)."""
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output[-4000:]
    document: dict[str, Any] = json.loads(lines[-1])
    return document


def listed_tools(stdout: str) -> list[str]:
    return sorted(tool["name"] for tool in last_json(stdout)["result"]["tools"])


LIST_TOOLS = "ARGS=--cli --format json --connect-timeout 15000 --method tools/list"


def test_make_inspect_over_stdio(project: Project, node_tools: NodeTools, tmp_path: Path) -> None:
    """The Inspector starts the server over stdio (its `--transport` does not take the server's),
    lists the tools and calls one as the README shows."""
    code, stdout, stderr = make_inspect(project, node_tools, tmp_path, LIST_TOOLS)
    assert code == 0, stderr[-4000:]
    assert listed_tools(stdout) == EXAMPLE_TOOLS
    call = "ARGS=--cli --format json --method tools/call --tool-name search_notes --tool-arg query=release"
    code, stdout, stderr = make_inspect(project, node_tools, tmp_path, call)
    assert code == 0, stderr[-4000:]
    result = last_json(stdout)["result"]
    assert [note["id"] for note in result["structuredContent"]["notes"]] == ["n-001"]


def test_make_inspect_over_http_with_the_key(
    server: str, api_key: tuple[str, str], project: Project, node_tools: NodeTools, tmp_path: Path
) -> None:
    """TRANSPORT=http sends MCP_KEY as a bearer header to MCP_URL; a wrong key is refused by the server."""
    endpoint = f"MCP_URL={server}/mcp"
    code, stdout, stderr = make_inspect(
        project, node_tools, tmp_path, "TRANSPORT=http", endpoint, LIST_TOOLS, MCP_KEY=api_key[0]
    )
    assert code == 0, stderr[-4000:]
    assert listed_tools(stdout) == EXAMPLE_TOOLS
    assert api_key[0] not in stdout + stderr, "make echoed the key"
    wrong = "mcpk_" + "x" * 43
    code, stdout, stderr = make_inspect(
        project, node_tools, tmp_path, "TRANSPORT=http", endpoint, LIST_TOOLS, MCP_KEY=wrong
    )
    assert code != 0
    assert last_json(stderr)["error"]["code"] == "auth_required"


def test_make_inspect_over_http_without_a_key_is_refused_before_the_inspector_starts(
    server: str, project: Project, node_tools: NodeTools, tmp_path: Path
) -> None:
    code, stdout, stderr = make_inspect(
        project, node_tools, tmp_path, "TRANSPORT=http", f"MCP_URL={server}/mcp", "INSPECTOR=echo INSPECTOR-RAN"
    )
    assert code == 2
    assert "MCP_KEY is empty: TRANSPORT=http needs the API key make setup printed" in stderr
    assert "INSPECTOR-RAN" not in stdout


def test_make_inspect_refuses_a_node_that_is_too_old(project: Project, node_tools: NodeTools, tmp_path: Path) -> None:
    """A `node` printing v20.11.0 first on PATH: the target stops before the Inspector, naming the
    version it needs and how to get it."""
    fake = tmp_path / "old-node" / "node"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho v20.11.0\n")
    fake.chmod(0o755)
    path = f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    command = ["make", "inspect", f"UV={uv_without_sync(tmp_path)}", "INSPECTOR=echo INSPECTOR-RAN"]
    result = run_in_project(project, node_tools, tmp_path, command, PATH=path)
    assert result.returncode != 0
    assert f"needs Node.js >= 22.19.0; {fake} is v20.11.0." in result.stderr
    assert "nvm install 22" in result.stderr
    assert "INSPECTOR-RAN" not in result.stdout


def test_the_node_minimum_is_the_inspectors_own(project: Project, node_tools: NodeTools) -> None:
    """INSPECTOR_NODE in the Makefile is what the installed Inspector's package.json requires."""
    package = node_tools.root / "node_modules" / "@modelcontextprotocol" / "inspector" / "package.json"
    engines = json.loads(package.read_text())["engines"]["node"]
    minimum = re.search(r"^INSPECTOR_NODE = (\S+)$", (project.path / "Makefile").read_text(), re.MULTILINE)
    assert minimum, "INSPECTOR_NODE not in the rendered Makefile"
    assert engines == f">={minimum[1]}"


def call_tool(project: Project, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The rendered scripts/call_tool.py, run with the project's venv."""
    command = [str(project.python), "scripts/call_tool.py", *args]
    return subprocess.run(
        command,
        cwd=project.path,
        env=project.env() | env,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )


def test_the_python_client_example_over_http(server: str, api_key: tuple[str, str], project: Project) -> None:
    """With MCP_KEY it gets a result from a call longer than httpx2's 5 s default read timeout
    (12 sections of 0.5 s); without it, the 401 is named; a tool error exits 1."""
    url = f"{server}/mcp"
    slow = call_tool(project, "--url", url, "build_report", '{"topic": "interop", "sections": 12}', MCP_KEY=api_key[0])
    assert slow.returncode == 0, slow.stderr[-4000:]
    assert len(json.loads(slow.stdout)["sections"]) == 12
    refused = call_tool(project, "--url", url, "search_notes", '{"query": "release"}')
    assert refused.returncode == 2
    assert "HTTP 401" in refused.stderr
    assert "Set MCP_KEY" in refused.stderr
    failed = call_tool(project, "--url", url, "search_notes", '{"queryy": "release"}', MCP_KEY=api_key[0])
    assert failed.returncode == 1
    assert "'queryy' is not an argument of this tool" in failed.stderr


def test_the_python_client_example_over_stdio(project: Project) -> None:
    result = call_tool(project, "--stdio", "search_notes", '{"query": "release"}')
    assert result.returncode == 0, result.stderr[-4000:]
    assert [note["id"] for note in json.loads(result.stdout)["notes"]] == ["n-001"]


ASKED_DELETE = {"legacy": "n-004", "auto": "n-005"}
SUBSCRIBED = {"legacy": "n-002", "auto": "n-003"}
"""Notes of the stateful server each run deletes: one per era and test."""


@pytest.mark.parametrize("mode", ERAS)
def test_typescript_client_answers_elicitation_and_sampling(
    mode: str, stateful_server: str, api_key: tuple[str, str], node_tools: NodeTools, tmp_path: Path
) -> None:
    """The server asks mid-call in both eras: over the legacy session's back channel, and in
    2026-07-28 as input-required results the client fulfils and retries with. The user confirms
    a deletion (elicitation); the client's model proposes a title, cleaned before it is returned."""
    note = ASKED_DELETE[mode]
    plan = {
        "transport": {"type": "http", "url": f"{stateful_server}/mcp", "token": api_key[0]},
        "mode": mode,
        "capabilities": {"elicitation": {"form": {}}, "sampling": {}},
        "answers": {
            "elicitation": {"action": "accept", "content": {"confirm": True}},
            "sampling": "  Release\n  checklist   summary ",
        },
        "calls": [
            {"name": "delete_note_with_confirmation", "arguments": {"note_id": note}},
            {"name": "suggest_note_title", "arguments": {"note_id": "n-001"}},
        ],
    }
    report = smoke(node_tools, tmp_path, plan)
    assert report["ok"], report
    assert report["protocolVersion"] == ERAS[mode], report
    deleted, titled = report["calls"]
    assert deleted["structured"] == {"deleted": True, "note_id": note, "reason": "the user confirmed"}, deleted
    assert not titled["isError"], titled
    assert titled["structured"]["suggested_title"] == "Release checklist summary", titled
    assert [asked["method"] for asked in report["asked"]] == ["elicitation/create", "sampling/createMessage"]
    assert note in report["asked"][0]["message"], report["asked"]


@pytest.mark.parametrize("mode", ERAS)
def test_typescript_client_hears_about_the_note_it_subscribed_to(
    mode: str, stateful_server: str, api_key: tuple[str, str], node_tools: NodeTools, tmp_path: Path
) -> None:
    """A listen stream (2026-07-28) or resources/subscribe (2025-11-25) on notes://<id>; deleting
    that note sends notifications/resources/updated for it, and for nothing else."""
    note = SUBSCRIBED[mode]
    trigger = {"name": "delete_note", "arguments": {"note_id": note, "idempotency_key": f"interop-sub-{note}"}}
    plan = {
        "transport": {"type": "http", "url": f"{stateful_server}/mcp", "token": api_key[0]},
        "mode": mode,
        "subscribe": {"uri": f"notes://{note}", "trigger": trigger},
    }
    report = smoke(node_tools, tmp_path, plan)
    assert report["ok"], report
    assert report["protocolVersion"] == ERAS[mode], report
    assert report["subscription"] == {"heard": True, "updates": [f"notes://{note}"], "triggerError": False}, report
