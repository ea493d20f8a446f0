"""Example tool over an upstream HTTP API: every failure becomes an error a model can act on."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ..services import Services
from ..toolkit import Registry, upstream_failure
from ..upstreams import UpstreamError


class ForecastResult(BaseModel):
    """Tomorrow's weather in one city."""

    city: str
    summary: str
    temperature_c: float


async def get_forecast(
    city: Annotated[str, Field(min_length=1, max_length=100, description="City name such as 'Lisbon'")],
    ctx: Context[Services],
) -> ForecastResult:
    """Get tomorrow's weather forecast for a city from the forecast service."""
    try:
        forecast = await ctx.request_context.lifespan_context.forecasts.forecast(city)
    except UpstreamError as exc:
        raise upstream_failure(exc) from None
    return ForecastResult(city=forecast.city, summary=forecast.summary, temperature_c=forecast.temperature_c)


def register(registry: Registry) -> None:
    """Add the forecast tool."""
    registry.tool(
        title="Get forecast",
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
        scopes=["forecasts:read"],
    )(get_forecast)
