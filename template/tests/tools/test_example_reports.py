"""The long-running report tool: progress and cancellation."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from ..conftest import make_server

pytestmark = pytest.mark.anyio


async def test_report_sends_progress_for_every_section() -> None:
    """The caller sees one progress update per section, then the report."""
    updates: list[tuple[float, float | None]] = []
    all_arrived = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total))
        if len(updates) == 3:
            all_arrived.set()

    async with Client(make_server(services={"report_step_seconds": 0.0})) as client:
        args = {"topic": "uptime", "sections": 3}
        result = await client.call_tool("build_report", args, progress_callback=on_progress)
    assert result.structured_content is not None
    assert len(result.structured_content["sections"]) == 3
    with anyio.fail_after(2):
        await all_arrived.wait()  # progress may be delivered just after the result
    assert [(int(p), int(t or 0)) for p, t in updates] == [(1, 3), (2, 3), (3, 3)]


async def test_cancelling_the_call_stops_the_work() -> None:
    """Once the client gives up, the tool stops: no further progress arrives."""
    server = make_server(services={"report_step_seconds": 0.05})
    updates: list[float] = []
    first_update = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(progress)
        first_update.set()

    async with Client(server) as client:
        await client.list_tools()
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    args = {"topic": "slow", "sections": 20}
                    await client.call_tool("build_report", args, progress_callback=on_progress)

                tg.start_soon(call)
                await first_update.wait()
                tg.cancel_scope.cancel()
        seen = len(updates)
        await anyio.sleep(0.3)  # six more steps' worth of time: a still-running tool would report them
        assert len(updates) == seen
        assert seen < 20
