"""The note tools, resources and prompt, through a real MCP client."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.server import MCPServer
from mcp.server.subscriptions import ResourceUpdated, ServerEvent
from mcp.types import PromptReference, ResourceTemplateReference, TextContent, TextResourceContents

pytestmark = pytest.mark.anyio


async def test_search_returns_structured_matches(client: Client) -> None:
    """A search answers with structured content that matches the output schema."""
    result = await client.call_tool("search_notes", {"query": "redis"})
    assert not result.is_error
    assert result.structured_content == {"notes": [{"id": "n-004", "title": "Incident 42", "tags": ["ops", "redis"]}]}


async def test_search_filters_by_tag_and_limit(client: Client) -> None:
    """Tag and limit narrow the results."""
    result = await client.call_tool("search_notes", {"query": "e", "tag": "ops", "limit": 2})
    assert result.structured_content is not None
    assert [n["id"] for n in result.structured_content["notes"]] == ["n-001", "n-002"]


async def test_search_rejects_an_empty_query_with_a_reason(client: Client) -> None:
    """Invalid arguments come back as a tool error that names the field."""
    result = await client.call_tool("search_notes", {"query": ""})
    assert result.is_error
    assert isinstance(result.content[0], TextContent)
    assert "query" in result.content[0].text


async def test_list_notes_pages_until_the_cursor_is_null(client: Client) -> None:
    """Following next_cursor visits every note exactly once."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):  # bounded: 5 notes at 2 per page need 3 pages
        args: dict[str, object] = {"page_size": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.call_tool("list_notes", args)).structured_content
        assert page is not None
        seen += [n["id"] for n in page["notes"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["n-001", "n-002", "n-003", "n-004", "n-005"]


async def test_list_notes_explains_a_forged_cursor(client: Client) -> None:
    """A cursor the server did not issue gets an actionable error."""
    result = await client.call_tool("list_notes", {"cursor": "bm9wZQ"})
    assert result.is_error
    assert isinstance(result.content[0], TextContent)
    assert "next_cursor" in result.content[0].text


async def test_delete_is_applied_once_per_idempotency_key(client: Client) -> None:
    """A retried delete with the same key replays the first result instead of failing."""
    args = {"note_id": "n-003", "idempotency_key": "key-00000001"}
    first = await client.call_tool("delete_note", args)
    retry = await client.call_tool("delete_note", args)
    assert not first.is_error
    assert first.structured_content == {"deleted_id": "n-003", "title": "API style"}
    assert retry.structured_content == first.structured_content
    gone = await client.call_tool("delete_note", {"note_id": "n-003", "idempotency_key": "key-00000002"})
    assert gone.is_error
    assert isinstance(gone.content[0], TextContent)
    assert "No note has id 'n-003'" in gone.content[0].text


async def test_a_deletion_is_announced_to_subscribers_of_the_note(client: Client, mcp_server: MCPServer[Any]) -> None:
    """Subscribers of notes://<id> (a listen stream or a legacy resources/subscribe) hear of it."""
    events: list[ServerEvent] = []
    stop = mcp_server._subscriptions.subscribe(events.append)
    try:
        await client.call_tool("delete_note", {"note_id": "n-002", "idempotency_key": "key-00000009"})
    finally:
        stop()
    assert events == [ResourceUpdated(uri="notes://n-002")]


async def test_delete_refuses_a_key_reused_for_another_note(client: Client) -> None:
    """One key means one intended deletion."""
    await client.call_tool("delete_note", {"note_id": "n-001", "idempotency_key": "key-00000003"})
    reused = await client.call_tool("delete_note", {"note_id": "n-002", "idempotency_key": "key-00000003"})
    assert reused.is_error
    assert isinstance(reused.content[0], TextContent)
    assert "different note" in reused.content[0].text


async def test_tools_carry_truthful_annotations(client: Client) -> None:
    """Read-only tools say so; the delete tool is marked destructive."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tools["search_notes"].annotations is not None
    assert tools["search_notes"].annotations.read_only_hint is True
    assert tools["delete_note"].annotations is not None
    assert tools["delete_note"].annotations.destructive_hint is True
    assert tools["search_notes"].output_schema is not None


async def test_guide_resource_and_note_template_are_readable(client: Client) -> None:
    """The static resource and the resource template both return Markdown."""
    guide = await client.read_resource("notes://guide")
    note = await client.read_resource("notes://n-002")
    assert isinstance(guide.contents[0], TextResourceContents)
    assert "list_notes" in guide.contents[0].text
    assert isinstance(note.contents[0], TextResourceContents)
    assert note.contents[0].text.startswith("# On-call handbook")


async def test_unknown_note_resource_is_a_not_found_error(client: Client) -> None:
    """Reading a missing note is a protocol error, never empty contents."""
    with pytest.raises(MCPError, match="No note has id"):
        await client.read_resource("notes://n-999")


async def test_prompt_points_the_model_at_the_resource(client: Client) -> None:
    """The prompt renders one user message naming the note's URI."""
    prompt = await client.get_prompt("summarize_note", {"note_id": "n-001"})
    assert isinstance(prompt.messages[0].content, TextContent)
    assert "notes://n-001" in prompt.messages[0].content.text


async def test_note_ids_complete_for_the_prompt_and_the_resource_template(client: Client) -> None:
    """Typing the start of an id offers the matching ids, for the prompt argument and the URI variable."""
    prompt = await client.complete(
        PromptReference(type="ref/prompt", name="summarize_note"), {"name": "note_id", "value": "n-00"}
    )
    assert prompt.completion.values == ["n-001", "n-002", "n-003", "n-004", "n-005"]
    template = ResourceTemplateReference(type="ref/resource", uri="notes://{note_id}")
    narrowed = await client.complete(template, {"name": "note_id", "value": "n-004"})
    assert narrowed.completion.values == ["n-004"]
    assert (await client.complete(template, {"name": "note_id", "value": "zz"})).completion.values == []
