"""get_forecast's cache over a real HTTP upstream: a repeat is not fetched, a failing upstream
or an open breaker gets the last forecast flagged stale."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from ..caching.test_response_cache import Clock, clock
from ..conftest import make_server
from ..fake_upstream import Reply, fake_upstream

pytestmark = pytest.mark.anyio

__all__ = ["clock"]  # the fixture, used by name below

FAST = {"retry_attempts": 1, "retry_initial_seconds": 0.01, "retry_max_seconds": 0.02}


def upstream(url: str, **knobs: Any) -> dict[str, Any]:
    return {"upstreams": {"example": {"base_url": url, **FAST, **knobs}}}


async def test_a_repeated_forecast_is_not_fetched_again(clock: Clock) -> None:
    """Two calls for Lisbon within five minutes: one upstream request."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url))) as client:
        first = await client.call_tool("get_forecast", {"city": "Lisbon"})
        clock.at += 60
        second = await client.call_tool("get_forecast", {"city": "Lisbon"})
    assert len(fake.requests) == 1
    assert second.structured_content == first.structured_content
    assert (second.meta or {})["cache"]["hit"] is True


async def test_a_failing_upstream_gets_the_last_forecast_flagged_stale(clock: Clock) -> None:
    """500s after the TTL: the last forecast with `stale: true` and its age."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url))) as client:
        await client.call_tool("get_forecast", {"city": "Lisbon"})
        clock.at += 312
        fake.default = Reply(500, b"{}")
        result = await client.call_tool("get_forecast", {"city": "Lisbon"})
    assert not result.is_error
    assert result.structured_content is not None
    assert (result.structured_content["stale"], result.structured_content["stale_age_seconds"]) == (True, 312)
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]


async def test_an_open_breaker_is_covered_by_the_stale_forecast(clock: Clock) -> None:
    """Breaker open (fails fast without the upstream): still the stale forecast, not the error."""
    knobs = {"breaker_failures": 1, "breaker_reset_seconds": 30}
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url, **knobs))) as client:
        await client.call_tool("get_forecast", {"city": "Lisbon"})
        clock.at += 400
        fake.default = Reply(500, b"{}")
        await client.call_tool("get_forecast", {"city": "Lisbon"})  # opens the breaker
        asked = len(fake.requests)
        result = await client.call_tool("get_forecast", {"city": "Lisbon"})
    assert len(fake.requests) == asked  # the breaker answered, not the upstream
    assert result.structured_content is not None
    assert result.structured_content["stale"] is True
