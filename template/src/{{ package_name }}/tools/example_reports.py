"""Example long-running tool: reports progress after each step and stops when cancelled."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ..services import Services
from ..toolkit import Registry


class ReportResult(BaseModel):
    """A finished report."""

    topic: str
    sections: list[str]


async def build_report(
    topic: Annotated[str, Field(min_length=1, max_length=100, description="What the report is about")],
    ctx: Context[Services],
    sections: Annotated[int, Field(ge=1, le=20, description="Number of sections")] = 3,
) -> ReportResult:
    """Build a report section by section. Slow: sends progress after each section; cancel to stop early."""

    async def progress(done: int, total: int, message: str) -> None:
        await ctx.report_progress(done, total, message)

    report = await ctx.request_context.lifespan_context.reports.build(topic, sections, progress)
    return ReportResult(topic=report.topic, sections=report.sections)


def register(registry: Registry) -> None:
    """Add the report tool."""
    registry.tool(
        title="Build report",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
        scopes=["reports:read"],
    )(build_report)
