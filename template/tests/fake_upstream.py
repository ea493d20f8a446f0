"""A scripted HTTP upstream on 127.0.0.1 for fault-injection tests: statuses, delays, refusals."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

FORECAST = b'{"city":"Lisbon","summary":"sunny","temperature_c":21.5}'


@dataclass(frozen=True)
class Reply:
    """One scripted answer: `delay` seconds of silence, then `status` with `body`."""

    status: int = 200
    body: bytes = FORECAST
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class FakeUpstream:
    """Answers a request for a path in `routes` with its `Reply`; others with the next scripted
    `Reply`, then with `default`."""

    def __init__(self) -> None:
        self.url = ""
        self.default = Reply()
        self.routes: dict[str, Reply] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._script: list[Reply] = []
        self._handlers: set[asyncio.Task[None]] = set()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with `replies`, in order."""
        self._script = list(replies)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines if ": " in line)
            path = request_line.split(" ")[1]
            self.requests.append((path, {k.lower(): v for k, v in headers.items()}))
            reply = self.routes.get(path) or (self._script.pop(0) if self._script else self.default)
            await asyncio.sleep(reply.delay)
            extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {reply.status} X\r\nContent-Type: application/json\r\nContent-Length: {len(reply.body)}\r\n"
                f"Connection: close\r\n{extra}\r\n".encode("latin-1")
                + reply.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # Cancelled at shutdown while a slow reply sleeps; ending quietly keeps asyncio's
            # stream callback from printing a traceback for it (Python 3.11).
            pass
        finally:
            writer.close()
            self._handlers.discard(task)

    def cancel_handlers(self) -> None:
        for task in list(self._handlers):
            task.cancel()


@asynccontextmanager
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    """A `FakeUpstream` listening on a free port of 127.0.0.1 until the block ends."""
    upstream = FakeUpstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream.url = f"http://127.0.0.1:{port}"
    try:
        yield upstream
    finally:
        upstream.cancel_handlers()  # slow replies still sleeping: their callers gave up long ago
        server.close()
        await server.wait_closed()


def refused_url() -> str:
    """An address on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
