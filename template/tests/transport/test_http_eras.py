"""Both protocol eras on one Streamable HTTP endpoint, through real SDK clients and raw requests,
on a server that authenticates and on an open one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from ..conftest import make_app
from ..http_fixtures import MODERN, ClientFactory, modern_call, running

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["api_key+oauth", "none"])
async def http(request: pytest.FixtureRequest) -> AsyncIterator[httpx2.AsyncClient]:
    """A client of the app in each mode: with the test API key, or with no credential to an open server."""
    async with running(make_app(auth_mode=request.param)) as client:
        if request.param == "none":
            del client.headers["Authorization"]
        yield client


@pytest.mark.parametrize(("mode", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_each_era_lists_and_calls_tools(mcp_client: ClientFactory, mode: str, version: str) -> None:
    """A 2026-07-28 client and a 2025-11-25 client both work against the same endpoint."""
    async with mcp_client(mode) as client:
        assert client.protocol_version == version
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"probe_search", "probe_list", "probe_delete", "probe_work"} <= names
        result = await client.call_tool("probe_search", {"query": "on-call"})
        assert result.structured_content == {"items": [{"id": "p-002", "title": "On-call handbook", "tags": ["ops"]}]}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_progress_streams_over_http_in_each_era(mcp_client: ClientFactory, mode: str) -> None:
    """Progress notifications reach the caller over SSE in both eras."""
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with mcp_client(mode) as client:
        await client.list_tools()
        result = await client.call_tool("probe_work", {"topic": "t", "steps": 2}, progress_callback=on_progress)
    assert not result.is_error
    assert [int(p) for p in seen] == [1, 2]


async def test_a_raw_modern_request_needs_no_handshake(http: httpx2.AsyncClient) -> None:
    """One POST with the 2026-07-28 headers and _meta answers directly, without a session."""
    response = await http.post(
        "/mcp",
        json=modern_call("probe_search", {"query": "style"}),
        headers={**MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "probe_search"},
    )
    assert response.status_code == 200
    assert "mcp-session-id" not in response.headers
    body = response.json()
    assert body["result"]["structuredContent"]["items"][0]["id"] == "p-003"


async def test_the_legacy_leg_is_stateless_by_default(http: httpx2.AsyncClient) -> None:
    """initialize issues no session id, so any replica can answer the next request."""
    response = await http.post(
        "/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        headers={"Accept": "application/json, text/event-stream", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert "mcp-session-id" not in response.headers
    assert response.headers["content-type"].startswith("application/json")  # nothing streams before it
    assert response.json()["result"]["protocolVersion"] == "2025-11-25"


async def test_the_endpoint_does_not_redirect(http: httpx2.AsyncClient) -> None:
    """POST /mcp is served in place: many clients and proxies do not follow a 307."""
    response = await http.post("/mcp", content=b"{}", headers=MODERN)
    assert response.status_code != 307


async def test_an_unlisted_host_gets_421(http: httpx2.AsyncClient) -> None:
    """DNS-rebinding guard: a Host outside the allowlist is refused."""
    response = await http.post(
        "/mcp", json=modern_call("probe_search", {"query": "x"}), headers={**MODERN, "Host": "evil.example"}
    )
    assert response.status_code == 421


async def test_a_foreign_origin_gets_403(http: httpx2.AsyncClient) -> None:
    """A browser page from another origin cannot drive the server."""
    response = await http.post(
        "/mcp",
        json=modern_call("probe_search", {"query": "x"}),
        headers={**MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "probe_search", "Origin": "https://evil.example"},
    )
    assert response.status_code == 403


async def test_an_oversized_body_gets_413(http: httpx2.AsyncClient) -> None:
    """Bodies over the limit are refused before parsing."""
    response = await http.post("/mcp", content=b"x" * (4 * 1024 * 1024 + 1), headers=MODERN)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("request_id", "body_params"),
    [
        (1, {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
        ("call-7", {"name": "probe_search", "arguments": {"query": "x"}}),
    ],
)
async def test_an_unserved_protocol_version_is_refused_naming_every_served_one(
    http: httpx2.AsyncClient, request_id: int | str, body_params: dict[str, object]
) -> None:
    """A 2025-era message with a version neither era speaks gets 400 with its id and both eras'
    versions, not the SDK's 2026-07-28 handler's words (which say `_meta` is missing)."""
    method = "initialize" if "protocolVersion" in body_params else "tools/call"
    response = await http.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": request_id, "method": method, "params": body_params},
        headers={**MODERN, "MCP-Protocol-Version": "2025-13-01"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["id"] == request_id
    assert body["error"]["code"] == -32022
    assert body["error"]["data"] == {
        "supported": ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"],
        "requested": "2025-13-01",
    }
    assert "'2025-13-01'" in body["error"]["message"]
    assert "_meta" in body["error"]["message"]


async def test_a_long_unserved_version_is_cut_in_the_answer(http: httpx2.AsyncClient) -> None:
    """What the caller sent is echoed back at most 64 characters long, and an unreadable body has id null."""
    response = await http.post("/mcp", content=b"{not json", headers={**MODERN, "MCP-Protocol-Version": "9" * 500})
    assert response.status_code == 400
    body = response.json()
    assert body["id"] is None
    assert body["error"]["data"]["requested"] == "9" * 64 + "..."
    assert "9" * 65 not in response.text


async def test_an_unserved_version_on_a_modern_envelope_is_still_the_sdks_to_judge(http: httpx2.AsyncClient) -> None:
    """A 2026-07-28 envelope whose header names another version is a routing-header mismatch (-32020)."""
    response = await http.post(
        "/mcp",
        json=modern_call("probe_search", {"query": "x"}),
        headers={
            **MODERN,
            "MCP-Protocol-Version": "2099-01-01",
            "Mcp-Method": "tools/call",
            "Mcp-Name": "probe_search",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32020
