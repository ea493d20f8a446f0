"""The tools that ask the client mid-call, in both eras: elicitation asks the user, sampling the model."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.client.context import ClientRequestContext
from mcp.server import MCPServer
from mcp.types import CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult, TextContent

pytestmark = pytest.mark.anyio

ERAS = ["2026-07-28", "legacy"]


def answering(action: str, content: dict[str, Any] | None, asked: list[str]) -> Any:
    async def elicit(_context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action=action, content=content)

    return elicit


def replying(text: str, prompts: list[str]) -> Any:
    async def sample(_context: ClientRequestContext, params: CreateMessageRequestParams) -> CreateMessageResult:
        content = params.messages[0].content
        prompts.append(content.text if isinstance(content, TextContent) else "")
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text=text), model="test")

    return sample


@pytest.mark.parametrize("mode", ERAS)
async def test_a_confirmed_deletion_deletes_the_note(mcp_server: MCPServer[Any], mode: str) -> None:
    """The user is asked once, names the note's title, and the note is gone after they confirm."""
    asked: list[str] = []
    elicit = answering("accept", {"confirm": True}, asked)
    async with Client(mcp_server, mode=mode, elicitation_callback=elicit) as client:
        await client.list_tools()
        result = await client.call_tool("delete_note_with_confirmation", {"note_id": "n-002"})
        assert not result.is_error, result.content
        assert result.structured_content == {"deleted": True, "note_id": "n-002", "reason": "the user confirmed"}
        assert len(asked) == 1
        assert "n-002" in asked[0]
        again = await client.call_tool("delete_note_with_confirmation", {"note_id": "n-002"})
        assert again.is_error  # the note is gone: asked nothing more than the lookup allows
        assert len(asked) == 1


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize(("action", "content"), [("decline", None), ("cancel", None), ("accept", {"confirm": False})])
async def test_nothing_is_deleted_unless_the_user_confirms(
    mcp_server: MCPServer[Any], mode: str, action: str, content: dict[str, Any] | None
) -> None:
    elicit = answering(action, content, [])
    async with Client(mcp_server, mode=mode, elicitation_callback=elicit) as client:
        await client.list_tools()
        result = await client.call_tool("delete_note_with_confirmation", {"note_id": "n-001"})
        assert result.structured_content is not None
        assert result.structured_content["deleted"] is False
        still_there = await client.call_tool("search_notes", {"query": "e"})
        assert still_there.structured_content is not None
        assert "n-001" in [n["id"] for n in still_there.structured_content["notes"]]


@pytest.mark.parametrize("mode", ERAS)
async def test_sampling_suggests_a_bounded_single_line_title(mcp_server: MCPServer[Any], mode: str) -> None:
    """The note's text reaches the client's model; its reply comes back as one bounded line."""
    prompts: list[str] = []
    sample = replying("  Redis failover\n\nreview " + "x" * 500, prompts)
    async with Client(mcp_server, mode=mode, sampling_callback=sample) as client:
        await client.list_tools()
        result = await client.call_tool("suggest_note_title", {"note_id": "n-004"})
        assert not result.is_error, result.content
        suggestion = result.structured_content
        assert suggestion is not None
        assert suggestion["current_title"] == "Incident 42"
        assert suggestion["suggested_title"].startswith("Redis failover review x")
        assert "\n" not in suggestion["suggested_title"]
        assert len(suggestion["suggested_title"]) == 120
        assert len(prompts) == 1
        assert "Redis failover took 90 s" in prompts[0]


async def test_a_client_without_elicitation_is_told_so_and_nothing_is_deleted(mcp_server: MCPServer[Any]) -> None:
    async with Client(mcp_server) as client:
        await client.list_tools()
        with pytest.raises(MCPError, match="elicitation capability"):
            await client.call_tool("delete_note_with_confirmation", {"note_id": "n-005"})
        listed = await client.call_tool("search_notes", {"query": "e"})
        assert listed.structured_content is not None
        assert "n-005" in [n["id"] for n in listed.structured_content["notes"]]
