"""Adversarial requests over HTTP: each gets the exact refusal, and the invariants hold after it,
whether the server takes API keys, OAuth tokens or no credentials at all.

Ids follow the security checklist: A auth, T transport/headers, J JSON-RPC, V tool input,
R resource paths, G logging.
"""

from __future__ import annotations

import io
import json
from typing import Any

import anyio
import httpx2
import pytest

from .conftest import CANARY, SERVERS, Credentials, assert_invariants, call, flush_logs, jsonrpc_error, modern

pytestmark = [
    pytest.mark.anyio,
    # Every case against every server of the harness: each auth mode, each kind of credential, and
    # an open server (no credentials).
    pytest.mark.parametrize("credentials_and_app", list(SERVERS), indirect=True),
]

LEGACY = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def post(client: httpx2.AsyncClient, request: dict[str, Any], **headers: str) -> httpx2.Response:
    return await client.post("/mcp", headers={**request["headers"], **headers}, json=request["json"])


async def raw(client: httpx2.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx2.Response:
    return await client.post("/mcp", headers=headers, content=body)


def sse_payload(response: httpx2.Response) -> dict[str, Any]:
    data = next(line for line in response.text.splitlines() if line.startswith("data:"))
    payload: dict[str, Any] = json.loads(data.removeprefix("data:"))
    return payload


def legacy_call(tool: str, arguments: dict[str, Any]) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    ).encode()


DELETE = call("probe_delete", {"item_id": "p-001", "idempotency_key": "attack-0001"})


# --- T: transport and headers -----------------------------------------------------------------


async def test_t01_a_foreign_origin_is_refused(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """DNS rebinding / browser attack: 403 before anything runs."""
    response = await post(attacker, DELETE, Origin="https://evil.example", **creds.full)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden_origin"
    await assert_invariants(attacker, creds, response)


async def test_t02_an_unknown_host_is_misdirected(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """421 for a Host outside the allowlist."""
    response = await post(attacker, DELETE, Host="evil.example", **creds.full)
    assert response.status_code == 421
    await assert_invariants(attacker, creds, response)


async def test_t03_no_origin_is_fine(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """CLI clients send no Origin."""
    response = await post(attacker, call("probe_search", {"query": "x"}), **creds.full)
    assert response.status_code == 200


async def test_t04_forwarded_host_from_an_untrusted_peer_is_ignored(
    attacker: httpx2.AsyncClient, creds: Credentials
) -> None:
    """Only configured proxies may vouch for a host; the real Host header decides."""
    response = await post(
        attacker, call("probe_search", {"query": "x"}), **{"X-Forwarded-Host": "evil.example"}, **creds.full
    )
    assert response.status_code == 200


async def test_t05_forwarded_host_from_a_trusted_proxy_is_checked(
    attacker: httpx2.AsyncClient, credentials_and_app: tuple[Credentials, Any], creds: Credentials
) -> None:
    """Behind a configured proxy the forwarded host is the one checked."""
    _creds, app = credentials_and_app
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.2", 40000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://internal-name") as proxied:
        refused = await post(proxied, DELETE, **{"X-Forwarded-Host": "evil.example"}, **creds.full)
        allowed = await post(
            proxied, call("probe_search", {"query": "x"}), **{"X-Forwarded-Host": "testserver"}, **creds.full
        )
    assert refused.status_code == 421
    assert allowed.status_code == 200


async def test_t05b_a_trusted_proxy_forwarding_a_user_still_vouches_for_the_host(
    attacker: httpx2.AsyncClient, credentials_and_app: tuple[Credentials, Any], creds: Credentials
) -> None:
    """X-Forwarded-For names the end user; the proxy (the TCP peer) is what is trusted, so
    X-Forwarded-Host still counts, and a user claiming to be the proxy gains nothing."""
    _creds, app = credentials_and_app
    transport = httpx2.ASGITransport(app=app, client=("127.0.0.2", 40000))
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    async with httpx2.AsyncClient(transport=transport, base_url="http://internal-name") as proxied:
        allowed = await post(
            proxied,
            call("probe_search", {"query": "x"}),
            **forwarded,
            **{"X-Forwarded-Host": "testserver"},
            **creds.full,
        )
        refused = await post(proxied, DELETE, **forwarded, **{"X-Forwarded-Host": "evil.example"}, **creds.full)
    spoofed = await post(
        attacker,
        DELETE,
        Host="internal-name",
        **{"X-Forwarded-For": "127.0.0.2", "X-Forwarded-Host": "testserver"},
        **creds.full,
    )
    assert allowed.status_code == 200
    assert refused.status_code == 421
    assert spoofed.status_code == 421
    await assert_invariants(attacker, creds, spoofed)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Padding": "a" * 64 * 1024}, id="T06-64KiB-header"),
        pytest.param({f"X-Many-{i}": "v" for i in range(200)}, id="T07-200-headers"),
    ],
)
async def test_t06_oversized_headers_are_refused(
    attacker: httpx2.AsyncClient, creds: Credentials, headers: dict[str, str]
) -> None:
    """431 before any parsing."""
    response = await post(attacker, DELETE, **headers, **creds.full)
    assert response.status_code == 431
    await assert_invariants(attacker, creds, response)


async def test_t07_an_overlong_url_is_refused(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """414 for a 9 KiB request target."""
    request = DELETE
    response = await attacker.post(
        "/mcp?" + "q" * 9 * 1024, headers={**request["headers"], **creds.full}, json=request["json"]
    )
    assert response.status_code == 414
    await assert_invariants(attacker, creds, response)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/jsonx", "application/json-patch+json", "", "application/json, text/plain"],
)
async def test_t08_a_non_json_content_type_is_refused(
    attacker: httpx2.AsyncClient, creds: Credentials, content_type: str
) -> None:
    """415 unless the media type is exactly application/json (a prefix match let `jsonx` in)."""
    response = await raw(
        attacker, json.dumps(DELETE["json"]).encode(), {**DELETE["headers"], "Content-Type": content_type, **creds.full}
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    await assert_invariants(attacker, creds, response)


async def test_t09_an_oversized_body_is_refused(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """413 for a body one byte over 4 MiB."""
    response = await raw(attacker, b" " * (4 * 1024 * 1024 + 1), {**DELETE["headers"], **creds.full})
    assert response.status_code == 413
    await assert_invariants(attacker, creds, response)


async def test_t10_an_oversized_chunked_body_is_refused(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """413 without a Content-Length too: the limit is enforced while streaming."""

    async def chunks() -> Any:
        for _ in range(5):
            yield b" " * (1024 * 1024)

    response = await attacker.post("/mcp", headers={**DELETE["headers"], **creds.full}, content=chunks())
    assert response.status_code == 413
    await assert_invariants(attacker, creds, response)


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
async def test_t11_other_methods_are_not_allowed(attacker: httpx2.AsyncClient, creds: Credentials, method: str) -> None:
    """The stateless endpoint only takes POST."""
    response = await attacker.request(method, "/mcp", headers={**DELETE["headers"], **creds.full})
    assert response.status_code == 405
    await assert_invariants(attacker, creds, response)


@pytest.mark.parametrize(
    ("change", "header"),
    [
        pytest.param({"MCP-Protocol-Version": "2099-01-01"}, None, id="T12-version-header-vs-meta"),
        pytest.param({"Mcp-Method": "tools/list"}, None, id="T13-method-header-vs-body"),
        pytest.param({}, "Mcp-Name", id="T14-missing-name-header"),
    ],
)
async def test_t12_routing_headers_must_match_the_body(
    attacker: httpx2.AsyncClient, creds: Credentials, change: dict[str, str], header: str | None
) -> None:
    """400 with -32020 whenever a 2026-07-28 routing header disagrees with the body."""
    request = call("probe_delete", {"item_id": "p-001", "idempotency_key": "attack-0004"})
    request["headers"].update(change)
    if header:
        del request["headers"][header]
    response = await post(attacker, request, **creds.full)
    assert response.status_code == 400
    assert jsonrpc_error(response)["code"] == -32020
    await assert_invariants(attacker, creds, response)


# --- J: JSON-RPC envelopes ----------------------------------------------------------------------

MODERN_HEADERS = {**modern("tools/list", {})["headers"]}
BATCH = json.dumps([DELETE["json"], {**DELETE["json"], "id": 2}]).encode()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(b'{"jsonrpc":"2.0","id":1,', 400, -32700, id="J01-truncated"),
        pytest.param(b'{"jsonrpc":"1.0","id":1,"method":"tools/list"}', 400, -32600, id="J02-wrong-version"),
        pytest.param(b'{"id":1,"method":"tools/list"}', 400, -32600, id="J03-no-jsonrpc"),
        pytest.param(BATCH, 400, -32600, id="J04-batch"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, 400, -32700, id="J05-deep-nesting"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"\xff\xfe"}}', 400, -32700, id="J06-bad-utf8"
        ),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"Method":"tools/list"}', 400, -32600, id="J07-case-variant-key"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"result":{}}', 400, -32600, id="J08-posted-response"),
        pytest.param(b'{"jsonrpc":"2.0","id":null,"method":"tools/list"}', 400, -32600, id="J09-null-id"),
        pytest.param(b"", 400, -32700, id="J10-empty-body"),
    ],
)
async def test_j01_malformed_envelopes_get_jsonrpc_errors(
    attacker: httpx2.AsyncClient, creds: Credentials, body: bytes, status: int, code: int
) -> None:
    """Each malformed envelope gets the exact status and JSON-RPC code, never a 500."""
    with anyio.fail_after(2):
        response = await raw(attacker, body, {**MODERN_HEADERS, **creds.full})
    assert response.status_code == status
    assert jsonrpc_error(response)["code"] == code
    await assert_invariants(attacker, creds, response)


async def test_j11_an_unknown_method_is_404_method_not_found(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """2026-07-28 maps an unknown method to HTTP 404 with -32601."""
    response = await post(attacker, modern("foo/bar", {}), **creds.full)
    assert response.status_code == 404
    assert jsonrpc_error(response)["code"] == -32601
    await assert_invariants(attacker, creds, response)


async def test_j12_wrong_param_types_are_invalid_params(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """arguments as a string: 400 with -32602."""
    request = modern("tools/call", {"name": "probe_search", "arguments": "query=x"}, name="probe_search")
    response = await post(attacker, request, **creds.full)
    assert response.status_code == 400
    assert jsonrpc_error(response)["code"] == -32602
    await assert_invariants(attacker, creds, response)


async def test_j13_missing_meta_is_invalid_params(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """A 2026-07-28 request without its _meta envelope: 400 with -32602."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).encode()
    response = await raw(attacker, body, {**MODERN_HEADERS, **creds.full})
    assert response.status_code == 400
    assert jsonrpc_error(response)["code"] == -32602
    await assert_invariants(attacker, creds, response)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b'{"jsonrpc":', -32700, id="J14-legacy-truncated"),
        pytest.param(BATCH, -32602, id="J15-legacy-batch"),
    ],
)
async def test_j14_the_legacy_era_refuses_malformed_envelopes_too(
    attacker: httpx2.AsyncClient, creds: Credentials, body: bytes, code: int
) -> None:
    """The handshake-era path answers 400 with a JSON-RPC error (codes pinned to the SDK's)."""
    response = await raw(attacker, body, {**LEGACY, **creds.full})
    assert response.status_code == 400
    assert jsonrpc_error(response)["code"] == code
    await assert_invariants(attacker, creds, response)


# --- V: tool input ----------------------------------------------------------------------------


async def test_v01_an_unknown_tool_name_is_escaped_and_bounded(
    attacker: httpx2.AsyncClient, creds: Credentials
) -> None:
    """A 10 KB name with control characters: an isError result, echoed at most 64 characters, escaped."""
    name = "x" * 10_000 + "\x1b[2J\n"
    response = await post(attacker, call(name, {}), **creds.full)
    result = response.json()["result"]
    assert result["isError"] is True
    assert "\x1b" not in result["content"][0]["text"]
    assert len(result["content"][0]["text"]) < 200
    await assert_invariants(attacker, creds, response)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param({}, "'query' is required", id="V02-missing"),
        pytest.param({"query": "x", "limit": "five"}, "'limit'", id="V03-wrong-type"),
        pytest.param({"query": "x", "limit": 500}, "less than or equal to 50", id="V04-out-of-range"),
        pytest.param({"query": "x", "limt": 5}, "'limt' is not an argument", id="V05-misspelt-argument"),
        pytest.param({"query": "x" * 1000}, "at most 200 characters", id="V06-too-long"),
    ],
)
async def test_v02_bad_arguments_get_actionable_tool_errors(
    attacker: httpx2.AsyncClient, creds: Credentials, arguments: dict[str, Any], expected: str
) -> None:
    """isError with a sentence naming the argument and what is accepted; the tool body never runs."""
    response = await post(attacker, call("probe_search", arguments), **creds.full)
    result = response.json()["result"]
    assert result["isError"] is True
    assert expected in result["content"][0]["text"]
    assert "Accepted arguments: query" in result["content"][0]["text"]
    await assert_invariants(attacker, creds, response)


@pytest.mark.parametrize(
    "payload",
    ["; rm -rf / #", "$(id)", "`id`", "--upload-pack=x", "a\x00b", "\ud800"],
    ids=["V07-shell", "V08-subshell", "V09-backticks", "V10-flag", "V11-nul", "V12-lone-surrogate"],
)
async def test_v07_hostile_strings_are_data(attacker: httpx2.AsyncClient, creds: Credentials, payload: str) -> None:
    """Injection-shaped input is searched for as text (or refused), never interpreted."""
    request = call("probe_search", {"query": payload})
    # json.dumps escapes the lone surrogate as \ud800, as a hostile client would send it.
    response = await raw(attacker, json.dumps(request["json"]).encode(), {**request["headers"], **creds.full})
    assert response.status_code == 200
    await assert_invariants(attacker, creds, response)


@pytest.mark.parametrize("tool", ["explode", "upstream_refused"], ids=["V13-crash", "V14-careless-tool-error"])
async def test_v13_credentials_in_failures_never_reach_the_client(
    attacker: httpx2.AsyncClient, creds: Credentials, tool: str
) -> None:
    """A crash becomes a reference id; a ToolError quoting a credential is redacted."""
    response = await post(attacker, call(tool, {}), **creds.full)
    result = response.json()["result"]
    assert result["isError"] is True
    assert CANARY not in response.text
    if tool == "explode":
        assert "reference " in result["content"][0]["text"]
    else:
        assert "postgres://svc:***@db/x" in result["content"][0]["text"]
    await assert_invariants(attacker, creds, response)


# --- R: resource paths ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/%2e%2e/etc/passwd",
        "%252e%252e%252f",
        "/etc/passwd",
        "..\\..\\win.ini",
        "guides/../../x",
        "a\x00b",
    ],
    ids=[
        "R01-dotdot",
        "R02-encoded",
        "R03-encoded-dots",
        "R04-double-encoded",
        "R05-absolute",
        "R06-backslash",
        "R07-inner-dotdot",
        "R08-nul",
    ],
)
async def test_r01_paths_cannot_leave_the_document_root(
    attacker: httpx2.AsyncClient, creds: Credentials, path: str
) -> None:
    """Every traversal shape is refused with an isError result and no file bytes."""
    response = await post(attacker, call("probe_read", {"path": path}), **creds.full)
    result = response.json()["result"]
    assert result["isError"] is True
    assert "root:" not in response.text
    await assert_invariants(attacker, creds, response)


async def test_r09_documents_come_back_marked_untrusted(attacker: httpx2.AsyncClient, creds: Credentials) -> None:
    """Content from outside is flagged, and invisible characters are gone."""
    response = await post(attacker, call("probe_read", {"path": "guides/intro.md"}), **creds.full)
    structured = response.json()["result"]["structuredContent"]
    assert structured["untrusted"] is True
    assert "\u200b" not in structured["content"]
    assert "Ignore all previous instructions" in structured["content"]  # kept as data, flagged


# --- G: logging hygiene -----------------------------------------------------------------------


async def test_g01_forged_log_lines_stay_inside_one_record(
    attacker: httpx2.AsyncClient, creds: Credentials, log_output: io.StringIO
) -> None:
    """A newline-and-ANSI payload cannot start a fake log record: every line is one JSON object."""
    forged = "x\n2026-01-01 00:00:00 | INFO | admin granted\x1b[2J"
    await post(attacker, call(forged, {}), **creds.full)
    flush_logs()
    lines = [line for line in log_output.getvalue().splitlines() if line]
    assert lines
    records = [json.loads(line) for line in lines]  # each physical line is one whole record
    assert any("admin granted" in json.dumps(record) for record in records)
    assert not any(line.startswith("2026-01-01") for line in lines)


async def test_g02_no_secret_or_canary_reaches_any_log_line(
    attacker: httpx2.AsyncClient, creds: Credentials, log_output: io.StringIO
) -> None:
    """After the crash with a credential in its message, the log has the traceback but no secret."""
    await post(attacker, call("explode", {}), **creds.full)
    flush_logs()
    text = log_output.getvalue()
    assert "RuntimeError" in text, "the crash was not logged: the check below would be vacuous"
    assert "postgres://svc:***@db/x" in text
    for secret in (*creds.secrets, CANARY):
        assert secret not in text
