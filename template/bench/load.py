"""A small asyncio load generator speaking HTTP/1.1 keep-alive with pre-built MCP requests.

Raw sockets rather than an HTTP client library, so the generator is not the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
}


def http_request(port: int, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [
        "POST /mcp HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def modern_call(port: int, tool: str, arguments: dict[str, Any], auth: dict[str, str]) -> bytes:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments, "_meta": MODERN_META},
    }
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool, **auth}
    return http_request(port, body, headers)


def legacy_session(port: int, tool: str, arguments: dict[str, Any], auth: dict[str, str]) -> tuple[list[bytes], bytes]:
    """The handshake a 2025-11-25 client sends once (initialize, initialized), then its repeated call."""
    headers = {**auth}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    }
    versioned = {**headers, "MCP-Protocol-Version": "2025-11-25"}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    handshake = [
        http_request(port, init, headers),
        http_request(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, versioned),
    ]
    return handshake, http_request(port, call, versioned)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    start = lowered.find(b"content-length:")
    length = int(lowered[start + 15 : lowered.find(b"\r\n", start)]) if start >= 0 else 0
    return status, await reader.readexactly(length)


def failed(status: int, body: bytes) -> bool:
    return status not in (200, 202) or b'"isError":true' in body or b'"error":{' in body


def note_failure(result: Result, status: int, body: bytes) -> None:
    if failed(status, body):
        result.errors += 1
        result.first_error = result.first_error or f"{status} {body[:200]!r}"


async def client(port: int, setup: list[bytes], request: bytes, deadline: float, result: Result) -> None:
    """Send `setup` once, then `request` repeatedly on one keep-alive connection until `deadline`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for message in setup:
            writer.write(message)
            note_failure(result, *await read_response(reader))
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            status, body = await read_response(reader)
            result.latencies.append(time.perf_counter() - started)
            note_failure(result, status, body)
    finally:
        writer.close()


async def drive(port: int, setup: list[bytes], request: bytes, clients: int, seconds: float) -> Result:
    """`clients` connections for `seconds`; one Result for all of them."""
    result = Result()
    deadline = time.perf_counter() + seconds
    await asyncio.gather(*(client(port, setup, request, deadline, result) for _ in range(clients)))
    return result
