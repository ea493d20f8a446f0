"""HTTP fixtures and helpers: the real ASGI app with its lifespan running, reached without a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .conftest import auth_headers, make_app

BASE_URL = "http://testserver"
MODERN = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2026-07-28",
}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "0"},
}


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    """Run the app's lifespan and yield an HTTP client bound to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            http.headers.update(auth_headers())
            yield http


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with running(make_app()) as client:
        yield client


ClientFactory = Callable[[str], AbstractAsyncContextManager[Client]]


@pytest.fixture
def mcp_client(http: httpx2.AsyncClient) -> ClientFactory:
    """Open an SDK client in the given mode ("legacy", "auto", "2026-07-28") over the app."""

    @asynccontextmanager
    async def connect(mode: Any) -> AsyncIterator[Client]:
        transport = streamable_http_client(f"{BASE_URL}/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client

    return connect


def modern_call(tool: str, arguments: dict[str, Any], request_id: int = 1) -> dict[str, Any]:
    """A raw 2026-07-28 tools/call body."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": MODERN_META},
    }


@dataclass(frozen=True)
class AsgiResponse:
    """What an ASGI app answered, headers exactly as sent (repeats included)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def all(self, name: str) -> list[str]:
        """Every value of header `name`, in order."""
        wanted = name.lower().encode()
        return [value.decode("latin-1") for key, value in self.headers if key.lower() == wanted]


async def asgi_call(
    app: Any,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b"",
    *,
    client: tuple[str, int] = ("127.0.0.1", 50000),
    query_string: bytes = b"",
) -> AsgiResponse:
    """Send one request straight to the ASGI app: no HTTP client between, so headers arrive exactly
    as given (two Host headers, raw bytes) and thousands of requests take seconds."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": "",
        "headers": headers,
        "client": client,
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await anyio.sleep_forever()  # the client stays connected until the response is complete
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return AsgiResponse(start["status"], list(start.get("headers", [])), content)
