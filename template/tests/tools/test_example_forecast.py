"""The forecast tool over a real HTTP upstream on 127.0.0.1: what a model sees when it fails."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from ..conftest import TEST_API_KEY, make_app, make_server
from ..fake_upstream import Reply, fake_upstream, refused_url
from ..http_fixtures import BASE_URL, MODERN, modern_call, running

pytestmark = pytest.mark.anyio

FAST = {"retry_initial_seconds": 0.01, "retry_max_seconds": 0.02}


def upstream(url: str, **knobs: Any) -> dict[str, Any]:
    return {"upstreams": {"example": {"base_url": url, **FAST, **knobs}}}


async def test_the_forecast_arrives_as_structured_content() -> None:
    """A healthy upstream: the tool returns its forecast."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url))) as client:
        result = await client.call_tool("get_forecast", {"city": "Lisbon"})
    assert not result.is_error
    assert result.structured_content == {
        "city": "Lisbon",
        "summary": "sunny",
        "temperature_c": 21.5,
        "stale": False,
        "stale_age_seconds": None,
    }
    assert fake.requests[0][0] == "/forecast?city=Lisbon"


async def test_a_failing_upstream_tells_the_model_to_retry() -> None:
    """500s on every attempt: isError, error_type transient, and the text says retry."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url))) as client:
        fake.default = Reply(500, b"{}")
        result = await client.call_tool("get_forecast", {"city": "Lisbon"})
    assert result.is_error
    assert result.structured_content == {"error_type": "transient", "retry_after_seconds": None, "fallback_tool": None}
    text = result.content[0].text  # type: ignore[union-attr]
    assert text == "Upstream 'example' answered 500. This is temporary: retry the same call."
    assert len(fake.requests) == 3


async def test_an_open_breaker_answers_fast_with_the_wait() -> None:
    """After N failed calls the next one fails fast, says how long to wait, sends nothing."""
    knobs = {"retry_attempts": 1, "breaker_failures": 2, "breaker_reset_seconds": 30}
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url, **knobs))) as client:
        fake.default = Reply(500, b"{}")
        for _ in range(2):
            await client.call_tool("get_forecast", {"city": "Lisbon"})
        started = time.monotonic()
        result = await client.call_tool("get_forecast", {"city": "Lisbon"})
        elapsed = time.monotonic() - started
    assert result.is_error
    assert result.structured_content is not None
    assert (result.structured_content["error_type"], result.structured_content["retry_after_seconds"]) == (
        "transient",
        30,
    )
    assert "retry the same call in 30 s" in result.content[0].text  # type: ignore[union-attr]
    assert len(fake.requests) == 2
    assert elapsed < 0.5


async def test_the_tool_deadline_bounds_the_retries() -> None:
    """A 0.6 s tool deadline, 10 attempts of a refused connection with 0.25 s backoffs: the
    model gets the upstream's error (not a bare timeout) before the deadline."""
    knobs = {"retry_attempts": 10, "retry_initial_seconds": 0.25, "retry_max_seconds": 0.25}
    limits: dict[str, Any] = {"limits": {"tools": {"get_forecast": {"timeout_seconds": 0.6}}}}
    server = make_server(**upstream(refused_url(), **knobs), **limits)
    async with Client(server) as client:
        started = time.monotonic()
        result = await client.call_tool("get_forecast", {"city": "Lisbon"})
        elapsed = time.monotonic() - started
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error_type"] == "transient"
    assert "could not be reached" in result.content[0].text  # type: ignore[union-attr]
    assert elapsed < 0.9  # the deadline's own refusal would fail the text check above; slack for a busy machine


async def test_a_silent_upstream_is_cut_before_the_tool_deadline() -> None:
    """Read timeout 30 s, tool deadline 0.6 s: the model hears that the upstream did not answer
    (transient, retry) rather than the deadline's generic refusal."""
    limits: dict[str, Any] = {"limits": {"tools": {"get_forecast": {"timeout_seconds": 0.6}}}}
    async with fake_upstream() as fake:
        fake.default = Reply(delay=5.0)
        async with Client(make_server(**upstream(fake.url, read_timeout_seconds=30), **limits)) as client:
            started = time.monotonic()
            result = await client.call_tool("get_forecast", {"city": "Lisbon"})
            elapsed = time.monotonic() - started
    assert result.structured_content is not None
    assert result.structured_content["error_type"] == "transient"
    assert "did not answer in time" in result.content[0].text  # type: ignore[union-attr]
    assert 0.4 < elapsed < 0.6


async def test_an_unconfigured_upstream_says_what_to_fix_and_not_to_retry() -> None:
    """No base URL: fatal, names the variable, says do not retry."""
    async with Client(make_server()) as client:
        result = await client.call_tool("get_forecast", {"city": "Lisbon"})
    assert result.is_error
    assert result.structured_content is not None
    assert result.structured_content["error_type"] == "fatal"
    text = result.content[0].text  # type: ignore[union-attr]
    assert "UPSTREAMS__EXAMPLE__BASE_URL" in text
    assert "Do not retry" in text


async def test_a_city_the_upstream_does_not_know_is_an_input_error() -> None:
    """404: error_type input, the model is told to change the arguments."""
    async with fake_upstream() as fake, Client(make_server(**upstream(fake.url))) as client:
        fake.default = Reply(404, b"{}")
        result = await client.call_tool("get_forecast", {"city": "Atlantis"})
    assert result.structured_content is not None
    assert result.structured_content["error_type"] == "input"
    assert "Change the arguments" in result.content[0].text  # type: ignore[union-attr]


async def test_over_http_the_error_arrives_and_readyz_shows_degraded_but_ready() -> None:
    """Over the real HTTP app: the same structured error; /readyz stays 200 with the open
    circuit in its detail; the circuit gauge says open."""
    knobs = {"retry_attempts": 1, "breaker_failures": 1}
    app = make_app(**upstream(refused_url(), **knobs))
    async with running(app) as http:
        async with Client(streamable_http_client(f"{BASE_URL}/mcp", http_client=http)) as client:
            result = await client.call_tool("get_forecast", {"city": "Lisbon"})
            assert result.is_error
            assert result.structured_content is not None
            assert result.structured_content["error_type"] == "transient"
            ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["upstreams"] == "degraded: example open"
        metrics = await http.get("/metrics")
    assert 'mcp_server_upstream_circuit_state{upstream="example"} 2.0' in metrics.text


FORECAST_CALL = {**MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "get_forecast"}


def answer_of(response: Any) -> dict[str, Any]:
    """The JSON-RPC answer of a POST, whether it came as JSON or as an SSE stream."""
    if response.headers["content-type"].startswith("application/json"):
        return dict(response.json())
    data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
    return dict(json.loads(data[-1]))


async def test_each_caller_reaches_an_upstream_with_its_own_credential_never_the_mcp_token() -> None:
    """`caller_header` set: two callers at once each reach the upstream with the credential they
    sent in that header, as `Authorization: Bearer`; the MCP credential never leaves this server."""
    knobs = {"caller_header": "X-Forecast-Token"}
    async with fake_upstream() as fake:
        fake.default = Reply(body=b'{"city": "Lisbon", "summary": "sunny", "temperature_c": 21.5}', delay=0.05)
        app = make_app(cache={"enabled": False}, **upstream(fake.url, **knobs))
        async with running(app) as http:

            async def call(city: str, token: str) -> dict[str, Any]:
                headers = {**FORECAST_CALL, "X-Forecast-Token": token}
                response = await http.post("/mcp", headers=headers, json=modern_call("get_forecast", {"city": city}))
                return answer_of(response)

            answers = await asyncio.gather(*(call(f"City{i}", f"token-{i}") for i in range(6)))
    assert all(not a["result"].get("isError") for a in answers), answers
    seen = {path: headers["authorization"] for path, headers in fake.requests}
    assert seen == {f"/forecast?city=City{i}": f"Bearer token-{i}" for i in range(6)}
    assert not any(TEST_API_KEY in str(headers) for _, headers in fake.requests)


async def test_a_caller_without_its_upstream_credential_is_told_which_header_to_send() -> None:
    """No credential in the header: a fatal error naming the header, the upstream not called, the
    breaker untouched; an upstream that refuses the caller's credential says so too."""
    knobs = {"caller_header": "X-Forecast-Token", "breaker_failures": 1}
    async with fake_upstream() as fake:
        fake.default = Reply(401, b"{}")
        app = make_app(cache={"enabled": False}, **upstream(fake.url, **knobs))
        async with running(app) as http:
            missing = answer_of(
                await http.post("/mcp", headers=FORECAST_CALL, json=modern_call("get_forecast", {"city": "A"}))
            )
            assert fake.requests == []
            headers = {**FORECAST_CALL, "X-Forecast-Token": "expired"}
            refused = answer_of(
                await http.post("/mcp", headers=headers, json=modern_call("get_forecast", {"city": "B"}))
            )
            ready = await http.get("/readyz")
    for answer in (missing, refused):
        assert answer["result"]["isError"]
        assert answer["result"]["structuredContent"]["error_type"] == "fatal"
        assert "x-forecast-token header" in answer["result"]["content"][0]["text"]
    assert "sent none" in missing["result"]["content"][0]["text"]
    assert "refused the caller's own credential (401)" in refused["result"]["content"][0]["text"]
    assert "expired" not in str(refused)
    assert ready.json()["checks"]["upstreams"] == "ok"  # one caller's bad credential opens no circuit
