"""`smoke`: check a deployed server end to end, one line per check with its timing.

The checks, in order (each needs the ones before it): `/healthz`, `/readyz`, a call without a
credential is refused, `tools/list` in both protocol eras (2026-07-28 in one exchange, 2025-11-25
after the `initialize` handshake), the canary round trip (the resource and the tool both answer
the expected phrase, so the calls reached this server, not a stand-in), an `isError` path (the
canary tool with an invalid argument), and that `/metrics` counted the canary calls.

The first failure ends the run with exit code 1 and its reason on the last line. Without a key,
the checks that need one are skipped and said to be. The key comes from `--key` or, better (other
users can read a process's arguments), the `MCP_KEY` environment variable; it is never printed.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import httpx2

from .project import ENV_PREFIX
from .settings import CANARY_PHRASE
from .toolkit.canary import RESOURCE, TOOL

KEY_ENV = "MCP_KEY"
PHRASE_ENV = f"{ENV_PREFIX}CANARY__PHRASE"
METRICS_PORT_ENV = f"{ENV_PREFIX}OBSERVABILITY__METRICS_PORT"
DEFAULT_METRICS_PORT = 9464
TIMEOUT = httpx2.Timeout(10.0, connect=5.0)
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "smoke", "version": "1"},
}
CANARY_CALLS = 2
"""Tool calls the canary checks make (one answered, one isError): /metrics must count them."""


class CheckFailedError(Exception):
    """A check failed; the message is the one-line reason."""


class Skipped(Exception):  # noqa: N818 - an outcome, not an error
    """A check could not run here; the message says why."""


@dataclass
class Smoke:
    """One run against `url` (the server's base URL, without /mcp)."""

    http: httpx2.AsyncClient
    url: str
    key: str
    phrase: str
    metrics_url: str
    metrics_explicit: bool
    skip_metrics: bool = False
    """Behind a Service with several replicas the scrape may reach a pod that answered none of the calls."""
    mcp_path: str = "/mcp"
    open_server: bool = False
    tool_names: set[str] = field(default_factory=set)
    canary_before: tuple[float, float] | None = None
    _next_id: int = 0

    # -- the checks -----------------------------------------------------------------------

    async def healthz(self) -> str:
        response = await self.get("/healthz")
        expect_status(response, 200, "/healthz")
        return "200"

    async def readyz(self) -> str:
        response = await self.get("/readyz")
        if response.status_code != 200:
            raise CheckFailedError(
                f"/readyz answered {response.status_code}, not 200 (not ready): {brief(response.text)}"
            )
        return "200"

    async def refuses_anonymous(self) -> str:
        response = await self.post_modern("tools/list", {}, authenticated=False)
        if response.status_code == 401:
            return "401 without a credential"
        if response.status_code == 200:
            self.open_server = True
            if self.key:
                raise CheckFailedError(
                    "a call without a credential was answered (200) although a key was given: "
                    f"the server runs {ENV_PREFIX}AUTH__MODE=none; drop the key if that is intended"
                )
            raise Skipped("the server answers without a credential (AUTH__MODE=none)")
        raise CheckFailedError(
            f"a call without a credential got HTTP {response.status_code}, expected 401{hint(response.status_code)}"
        )

    async def tools_list_modern(self) -> str:
        self.need_key()
        answer = await self.modern("tools/list", {})
        self.tool_names = tool_names(answer, MODERN)
        self.need_canary_listed(MODERN)
        return f"{len(self.tool_names)} tool{'s' if len(self.tool_names) != 1 else ''}, {TOOL!r} among them"

    async def tools_list_legacy(self) -> str:
        self.need_key()
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        init = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "smoke", "version": "1"}}
        response = await self.post(self.message("initialize", init), headers)
        answer = result_of(response, "initialize", self._next_id)
        version = answer.get("protocolVersion")
        if version != LEGACY:
            raise CheckFailedError(f"initialize agreed on protocol version {version!r}, expected {LEGACY}")
        headers["MCP-Protocol-Version"] = LEGACY
        if session := response.headers.get("mcp-session-id"):
            headers["Mcp-Session-Id"] = session
        notified = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, headers)
        if notified.status_code not in (200, 202):
            raise CheckFailedError(f"notifications/initialized got HTTP {notified.status_code}, expected 202")
        listed = await self.post(self.message("tools/list", {}), headers)
        names = tool_names(result_of(listed, "tools/list", self._next_id), LEGACY)
        if names != self.tool_names:
            raise CheckFailedError(
                f"the eras list different tools: {LEGACY} adds {sorted(names - self.tool_names)}, "
                f"drops {sorted(self.tool_names - names)}"
            )
        self.need_canary_listed(LEGACY)
        if session:  # a stateful server keeps it until it expires; this run needs it no longer
            await self.http.delete(self.url + self.mcp_path, headers=self.authorized(headers))
        return f"the same {len(names)} as {MODERN}" + (f", session {session[:8]}…" if session else "")

    async def canary_round_trip(self) -> str:
        self.need_key()
        if not self.skip_metrics:
            self.canary_before = await self.canary_counts(quiet=True)
        read = await self.modern("resources/read", {"uri": RESOURCE}, name=RESOURCE)
        contents = read.get("contents")
        text = (
            contents[0].get("text")
            if isinstance(contents, list) and contents and isinstance(contents[0], dict)
            else None
        )
        if text != self.phrase:
            raise CheckFailedError(
                f"{RESOURCE} reads {shown(text)}, expected {shown(self.phrase)}: this is not the server you meant "
                f"(or its {ENV_PREFIX}CANARY__PHRASE differs; pass --phrase)"
            )
        marker = secrets.token_hex(8)
        called = await self.modern("tools/call", {"name": TOOL, "arguments": {"marker": marker}}, name=TOOL)
        if called.get("isError"):
            raise CheckFailedError(f"the {TOOL} tool answered isError: {brief(content_text(called))}")
        answer = called.get("structuredContent") or {}
        if answer.get("phrase") != self.phrase:
            raise CheckFailedError(
                f"the {TOOL} tool answers {shown(answer.get('phrase'))}, expected {shown(self.phrase)}"
            )
        if answer.get("marker") != marker:
            raise CheckFailedError(
                f"the {TOOL} tool echoed marker {shown(answer.get('marker'))}, not this call's {marker}"
            )
        return "resource and tool agree on the phrase; marker echoed"

    async def is_error_path(self) -> str:
        self.need_key()
        called = await self.modern("tools/call", {"name": TOOL, "arguments": {"marker": "not a marker!"}}, name=TOOL)
        if called.get("isError") is not True:
            raise CheckFailedError(f"the {TOOL} tool with an invalid marker was answered without isError")
        return "an invalid argument came back isError"

    async def metrics_counted(self) -> str:
        if self.skip_metrics:
            raise Skipped("--skip-metrics: the scrape could reach a replica that answered none of these calls")
        self.need_key()
        after = await self.canary_counts(quiet=False)
        if after is None:  # quietly unreachable: only when the URL was not given explicitly
            raise Skipped(f"{self.metrics_url} is not reachable (pass --metrics-url to check it)")
        before = self.canary_before or (0.0, 0.0)
        calls, errors = after[0] - before[0], after[1] - before[1]
        if calls < CANARY_CALLS or errors < 1:
            raise CheckFailedError(
                f"{self.metrics_url} counted {calls:g} canary calls ({errors:g} errors) of this run's {CANARY_CALLS} "
                "(1 error); behind several replicas, point --metrics-url at the pod that answered"
            )
        return f"counted {calls:g} canary calls, {errors:g} error"

    # -- helpers ---------------------------------------------------------------------------

    def need_key(self) -> None:
        if not self.key and not self.open_server:
            raise Skipped(f"no key: pass --key or set {KEY_ENV}")

    def need_canary_listed(self, era: str) -> None:
        if TOOL not in self.tool_names:
            raise CheckFailedError(
                f"tools/list ({era}) has no {TOOL!r} tool: set {ENV_PREFIX}CANARY__ENABLED=true, or grant this key "
                f"the scope in {ENV_PREFIX}CANARY__SCOPE"
            )

    async def canary_counts(self, *, quiet: bool) -> tuple[float, float] | None:
        """(canary calls, canary errors) on /metrics; None when it is unreachable and that is allowed."""
        try:
            response = await self.http.get(self.metrics_url)
        except httpx2.HTTPError as exc:
            if quiet or not self.metrics_explicit:
                return None
            raise CheckFailedError(f"{self.metrics_url} is unreachable: {describe(exc)}") from None
        if response.status_code != 200:
            if quiet or not self.metrics_explicit:
                return None
            raise CheckFailedError(f"{self.metrics_url} answered {response.status_code}, not 200")
        return (
            sample_sum(response.text, "mcp_server_operation_duration_seconds_count", f'gen_ai_tool_name="{TOOL}"'),
            sample_sum(response.text, "mcp_server_tool_errors_total", f'gen_ai_tool_name="{TOOL}"'),
        )

    async def get(self, path: str) -> httpx2.Response:
        return await self.http.get(self.url + path)

    def message(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        return {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}

    async def post(
        self, body: dict[str, Any], headers: dict[str, str], *, authenticated: bool = True
    ) -> httpx2.Response:
        return await self.http.post(
            self.url + self.mcp_path, json=body, headers=self.authorized(headers) if authenticated else headers
        )

    def authorized(self, headers: dict[str, str]) -> dict[str, str]:
        """`headers` with the key, when there is one."""
        return {**headers, "Authorization": f"Bearer {self.key}"} if self.key else headers

    async def post_modern(
        self, method: str, params: dict[str, Any], *, name: str | None = None, authenticated: bool = True
    ) -> httpx2.Response:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": method,
        }
        if name is not None:
            headers["Mcp-Name"] = name
        body = self.message(method, {**params, "_meta": META})
        return await self.post(body, headers, authenticated=authenticated)

    async def modern(self, method: str, params: dict[str, Any], *, name: str | None = None) -> dict[str, Any]:
        response = await self.post_modern(method, params, name=name)
        return result_of(response, method, self._next_id)


def expect_status(response: httpx2.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise CheckFailedError(f"{what} answered {response.status_code}, not {status}: {brief(response.text)}")


def result_of(response: httpx2.Response, method: str, request_id: int) -> dict[str, Any]:
    """The JSON-RPC result answering `request_id`, from a JSON or an SSE response.

    Raises:
        CheckFailedError: the HTTP status, the body or the JSON-RPC answer is not a success.
    """
    if response.status_code == 401:
        raise CheckFailedError(
            f"{method} was refused (401): the key is wrong, expired or revoked; check --key / {KEY_ENV}"
        )
    if response.status_code == 403:
        raise CheckFailedError(f"{method} was refused (403): the key lacks a scope it needs: {brief(response.text)}")
    if response.status_code != 200:
        raise CheckFailedError(
            f"{method} got HTTP {response.status_code}{hint(response.status_code)}: {brief(response.text)}"
        )
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        events = [line.removeprefix("data:").strip() for line in response.text.splitlines() if line.startswith("data:")]
    else:
        events = [response.text]
    for event in events:
        try:
            message = json.loads(event)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("id") == request_id:
            if "error" in message:
                error = message["error"] if isinstance(message["error"], dict) else {}
                raise CheckFailedError(
                    f"{method} failed: JSON-RPC error {error.get('code')}: {brief(str(error.get('message')))}"
                )
            result = message.get("result")
            if isinstance(result, dict):
                return result
    raise CheckFailedError(f"{method} got no JSON-RPC answer to request {request_id}: {brief(response.text)}")


def hint(status: int) -> str:
    """What an HTTP status usually means for a smoke run, if anything."""
    if status == 421:
        return f" (the server does not accept this Host: add it to {ENV_PREFIX}HTTP__ALLOWED_HOSTS)"
    return ""


def tool_names(result: dict[str, Any], era: str) -> set[str]:
    tools = result.get("tools")
    if not isinstance(tools, list):
        raise CheckFailedError(f"tools/list ({era}) answered without a list of tools")
    return {str(tool.get("name")) for tool in tools if isinstance(tool, dict)}


def content_text(result: dict[str, Any]) -> str:
    content = result.get("content")
    if isinstance(content, list):
        return " ".join(str(item.get("text", "")) for item in content if isinstance(item, dict))
    return ""


def sample_sum(exposition: str, metric: str, label: str) -> float:
    """The sum of every `metric` sample whose labels include `label` (Prometheus text format)."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith(metric + "{") and label in line.partition("}")[0]:
            try:
                total += float(line.rpartition("}")[2].split()[0])
            except (IndexError, ValueError):
                continue
    return total


def brief(text: str, limit: int = 160) -> str:
    """`text` on one line, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def shown(value: object) -> str:
    return repr(value) if value is None else repr(brief(str(value), 80))


def describe(exc: BaseException) -> str:
    """A transport error in one line (its class says what kind: refused, timed out)."""
    return f"{type(exc).__name__}: {brief(str(exc)) or 'no detail'}"


def default_metrics_url(url: str, port: str | None = None) -> str:
    """The same host on the metrics port (`port`, as the server's own setting says, else 9464)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"[{host}]" if ":" in host else host
    chosen = port if port and port.isdigit() else DEFAULT_METRICS_PORT
    return urlunsplit((parts.scheme, f"{netloc}:{chosen}", "/metrics", "", ""))


Check = tuple[str, Callable[[], Awaitable[str]]]


def checks_of(smoke: Smoke) -> list[Check]:
    return [
        ("healthz", smoke.healthz),
        ("readyz", smoke.readyz),
        ("refused without key", smoke.refuses_anonymous),
        (f"tools/list {MODERN}", smoke.tools_list_modern),
        (f"tools/list {LEGACY}", smoke.tools_list_legacy),
        ("canary round trip", smoke.canary_round_trip),
        ("isError path", smoke.is_error_path),
        ("metrics counted", smoke.metrics_counted),
    ]


async def run_checks(smoke: Smoke, out: Callable[[str], None]) -> int:
    """Run every check, printing one line each; 0 when none failed, else 1 (after the reason)."""
    passed = skipped = 0
    for name, check in checks_of(smoke):
        started = time.perf_counter()
        try:
            detail, status = await check(), "ok"
            passed += 1
        except Skipped as exc:
            detail, status = str(exc), "skipped"
            skipped += 1
        except CheckFailedError as exc:
            detail, status = str(exc), "FAIL"
        except httpx2.HTTPError as exc:
            detail, status = f"{smoke.url} unreachable: {describe(exc)}", "FAIL"
        elapsed = (time.perf_counter() - started) * 1000
        out(hide(f"{status:<7} {name:<22} {elapsed:7.1f} ms  {detail}", smoke.key))
        if status == "FAIL":
            out(hide(f"smoke FAILED at {name}: {detail}", smoke.key))
            return 1
    out(f"smoke passed: {passed} ok, {skipped} skipped, against {smoke.url}")
    return 0


def hide(line: str, key: str) -> str:
    """`line` with the key masked, should any answer ever echo it."""
    return line.replace(key, "***") if len(key) >= 8 else line  # a shorter one is no real key, and too common


def smoke(
    url: str,
    *,
    key: str | None,
    metrics_url: str | None,
    phrase: str | None = None,
    skip_metrics: bool = False,
    transport: httpx2.AsyncBaseTransport | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Check the server at `url`; return the exit code (0 when every check passed or was skipped)."""
    base = url.rstrip("/").removesuffix("/mcp")
    if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).hostname:
        out(f"smoke FAILED: --url {url!r} is not an http(s) URL such as http://127.0.0.1:8000")
        return 2
    resolved_key = key if key is not None else os.environ.get(KEY_ENV, "")
    expected = phrase or os.environ.get(PHRASE_ENV) or CANARY_PHRASE

    async def go() -> int:
        async with httpx2.AsyncClient(timeout=TIMEOUT, transport=transport, follow_redirects=False) as http:
            return await run_checks(
                Smoke(
                    http=http,
                    url=base,
                    key=resolved_key.strip(),
                    phrase=expected,
                    metrics_url=metrics_url or default_metrics_url(base, os.environ.get(METRICS_PORT_ENV)),
                    metrics_explicit=metrics_url is not None,
                    skip_metrics=skip_metrics,
                ),
                out,
            )

    return anyio.run(go)
