"""What the model reads costs context: keep descriptions short and the tool list small.

This file is yours (seeded once): tune the budget as your tool set grows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from mcp import Client

from ..conftest import make_server

pytestmark = pytest.mark.anyio

MAX_DESCRIPTION_WORDS = 50
TOOLS_LIST_BUDGET_BYTES = 12_000
"""Raise deliberately when adding tools: every byte is sent to the model on each session."""


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """Your tools only: the template's test probes never reach your users' models."""
    async with Client(make_server(test_fixtures=False), raise_exceptions=True) as connected:
        yield connected


async def test_every_tool_description_is_at_most_fifty_words(client: Client) -> None:
    """Long descriptions crowd out the user's conversation."""
    long = {
        tool.name: len((tool.description or "").split())
        for tool in (await client.list_tools()).tools
        if len((tool.description or "").split()) > MAX_DESCRIPTION_WORDS
    }
    assert long == {}


async def test_every_tool_has_a_description(client: Client) -> None:
    """A tool without a description is guesswork for the model."""
    assert all((tool.description or "").strip() for tool in (await client.list_tools()).tools)


async def test_tools_list_fits_the_byte_budget(client: Client) -> None:
    """The whole tools/list payload stays under the stated budget."""
    tools = (await client.list_tools()).tools
    payload = json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools])
    assert len(payload.encode()) <= TOOLS_LIST_BUDGET_BYTES, f"tools/list is {len(payload)} bytes"


async def test_tools_are_listed_in_a_stable_order(client: Client) -> None:
    """Deterministic order keeps client caches and reviews of changes meaningful."""
    first = [t.name for t in (await client.list_tools()).tools]
    second = [t.name for t in (await client.list_tools()).tools]
    assert first == second
