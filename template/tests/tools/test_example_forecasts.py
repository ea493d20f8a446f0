"""The fan-out forecast tool over a real HTTP upstream on 127.0.0.1: partial results under faults."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent

from ..conftest import make_server
from ..fake_upstream import Reply, fake_upstream, refused_url

pytestmark = pytest.mark.anyio

FAST = {"retry_initial_seconds": 0.01, "retry_max_seconds": 0.02}


def upstream(url: str, **knobs: Any) -> dict[str, Any]:
    return {"upstreams": {"example": {"base_url": url, **FAST, **knobs}}}


def forecast(city: str, temperature: float = 20.0) -> Reply:
    return Reply(body=json.dumps({"city": city, "summary": "sunny", "temperature_c": temperature}).encode())


def path(city: str) -> str:
    return f"/forecast?city={city}"


async def test_every_city_arrives_in_the_order_asked_and_nothing_is_partial() -> None:
    """Three healthy cities (one named twice): three upstream calls, results in request order."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url))) as client:
        fake.routes = {path(city): forecast(city, n) for n, city in enumerate(("Lisbon", "Oslo", "Rome"))}
        result = await client.call_tool("get_forecasts", {"cities": ["Lisbon", "Oslo", "Lisbon", "Rome"]})
    assert not result.is_error
    assert result.structured_content is not None
    assert [f["city"] for f in result.structured_content["forecasts"]] == ["Lisbon", "Oslo", "Rome"]
    assert (result.structured_content["partial"], result.structured_content["missing"]) == (False, [])
    assert sorted(request for request, _ in fake.requests) == sorted(path(c) for c in ("Lisbon", "Oslo", "Rome"))
    block = result.content[0]
    assert isinstance(block, TextContent)
    assert len(result.content) == 1
    assert json.loads(block.text) == result.structured_content  # the text is the same data, minified
    assert "\n" not in block.text


async def test_failed_cities_are_missing_with_their_own_error_type() -> None:
    """500s (transient), 404 (input), 429 with Retry-After (rate_limited): each city says what to
    do about it, and the healthy one is still returned, flagged partial."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url, retry_attempts=2))) as client:
        fake.routes = {
            path("Lisbon"): forecast("Lisbon"),
            path("Oslo"): Reply(500, b"{}"),
            path("Atlantis"): Reply(404, b"{}"),
            path("Rome"): Reply(429, b"{}", headers={"Retry-After": "7"}),
        }
        result = await client.call_tool("get_forecasts", {"cities": ["Lisbon", "Oslo", "Atlantis", "Rome"]})
    assert not result.is_error
    structured = result.structured_content
    assert structured is not None
    assert [f["city"] for f in structured["forecasts"]] == ["Lisbon"]
    assert structured["partial"] is True
    kinds = {m["item"]: (m["error_type"], m["retry_after_seconds"]) for m in structured["missing"]}
    assert kinds == {"Oslo": ("transient", None), "Atlantis": ("input", None), "Rome": ("rate_limited", 7)}
    assert all(m["message"].endswith(".") for m in structured["missing"])


async def test_a_slow_city_is_missing_before_the_tool_deadline_and_the_rest_arrive() -> None:
    """One city silent for 5 s under a 0.8 s deadline: the answer comes before the deadline with
    that city missing as transient, instead of the whole call timing out (which would be an
    isError result from the deadline, with no forecast in it)."""
    limits: dict[str, Any] = {"limits": {"tools": {"get_forecasts": {"timeout_seconds": 0.8}}}}
    async with fake_upstream() as fake:
        fake.routes = {path("Lisbon"): forecast("Lisbon"), path("Oslo"): Reply(delay=5.0)}
        async with Client(make_server(**upstream(fake.url, read_timeout_seconds=30), **limits)) as client:
            started = time.monotonic()
            result = await client.call_tool("get_forecasts", {"cities": ["Lisbon", "Oslo"]})
            elapsed = time.monotonic() - started
    assert not result.is_error
    structured = result.structured_content
    assert structured is not None
    assert [f["city"] for f in structured["forecasts"]] == ["Lisbon"]
    (missing,) = structured["missing"]
    assert (missing["item"], missing["error_type"]) == ("Oslo", "transient")
    assert "did not answer in time" in missing["message"]
    assert 0.5 < elapsed < 1.5  # the server cuts at 0.75 s; the rest is a busy machine's scheduling


async def test_when_every_city_fails_the_call_fails_as_a_whole() -> None:
    """Connection refused for every city: isError, transient, the text says retry; no partial."""
    async with Client(make_server(**upstream(refused_url(), retry_attempts=1))) as client:
        result = await client.call_tool("get_forecasts", {"cities": ["Lisbon", "Oslo"]})
    assert result.is_error
    assert result.structured_content == {"error_type": "transient", "retry_after_seconds": None, "fallback_tool": None}
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith("None of the 2 requested items could be fetched;")
    assert "could not be reached" in text
    assert "retry the same call" in text


async def test_a_bad_body_for_one_city_is_fatal_for_that_city_only() -> None:
    """An upstream answer that is not a forecast: that city is missing as fatal (do not retry it)."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url))) as client:
        fake.routes = {path("Lisbon"): forecast("Lisbon"), path("Oslo"): Reply(body=b'{"weather":"?"}')}
        result = await client.call_tool("get_forecasts", {"cities": ["Lisbon", "Oslo"]})
    structured = result.structured_content
    assert structured is not None
    assert [(m["item"], m["error_type"]) for m in structured["missing"]] == [("Oslo", "fatal")]


async def test_too_many_cities_is_an_input_error_naming_the_bound() -> None:
    """Eleven cities: refused before any upstream call, saying how many are accepted."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url))) as client:
        result = await client.call_tool("get_forecasts", {"cities": [f"c{i}" for i in range(11)]})
    assert result.is_error
    assert "cities" in result.content[0].text  # type: ignore[union-attr]
    assert fake.requests == []
