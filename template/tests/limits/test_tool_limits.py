"""Limits at the tool boundary: a tool's own rate and deadline, as results the model can act on."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from ..conftest import make_server

pytestmark = pytest.mark.anyio


async def test_a_tool_rate_refusal_says_how_long_to_wait() -> None:
    """Past the tool's burst the call is an isError result with retry_after_seconds."""
    server = make_server(limits={"tools": {"probe_search": {"rate_per_second": 0.5, "burst": 2}}})
    async with Client(server) as client:
        await client.list_tools()
        first = [await client.call_tool("probe_search", {"query": "x"}) for _ in range(2)]
        refused = await client.call_tool("probe_search", {"query": "x"})
        other = await client.call_tool("probe_list", {})
    assert not any(result.is_error for result in first)
    assert refused.is_error
    assert refused.structured_content == {"error": "rate_limited", "retry_after_seconds": 2}
    assert not other.is_error  # other tools keep their own budget


async def test_a_call_past_its_deadline_is_cancelled_and_explained() -> None:
    """The tool is cancelled at the deadline and the caller gets a timeout result."""
    server = make_server(
        limits={"tools": {"probe_work": {"timeout_seconds": 0.3}}},
    )
    async with Client(server) as client:
        await client.list_tools()
        with anyio.fail_after(5):
            result = await client.call_tool("probe_work", {"topic": "t", "steps": 10, "step_seconds": 0.2})
    assert result.is_error
    assert result.structured_content == {"error": "timeout", "timeout_seconds": 0.3}


def test_settings_naming_an_unknown_tool_are_refused_at_start_up() -> None:
    """A typo in LIMITS__TOOLS fails fast instead of limiting nothing."""
    with pytest.raises(ValueError, match="unknown tools \\['probe_serch'\\]"):
        make_server(limits={"tools": {"probe_serch": {"rate_per_second": 1}}})


async def test_a_timeout_raised_by_the_tool_itself_is_not_reported_as_the_deadline() -> None:
    """Only the server's own deadline becomes `timeout`; the tool's TimeoutError is its own failure."""
    server = make_server()

    async def flaky_upstream() -> str:
        """Fail the way an HTTP client's read timeout does."""
        raise TimeoutError("upstream read timed out")

    server.add_tool(flaky_upstream)
    async with Client(server) as client:
        await client.list_tools()
        with anyio.fail_after(5):
            result = await client.call_tool("flaky_upstream", {})
    assert result.is_error
    assert (result.structured_content or {}).get("error") != "timeout"
