"""Example tool over an upstream HTTP API: every failure becomes an error a model can act on.

Forecasts are the same for every caller and change slowly, so answers are cached for five
minutes (`scope="shared"`), and for an hour after that a cached forecast stands in, flagged
`stale`, when the upstream fails or its breaker is open.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ..services import Services
from ..toolkit import Registry, ToolCache, upstream_failure
from ..upstreams import UpstreamError


class ForecastResult(BaseModel):
    """Tomorrow's weather in one city."""

    city: str
    summary: str
    temperature_c: float
    stale: bool = False
    """True when the forecast service failed and this is the last good answer (see `stale_age_seconds`)."""
    stale_age_seconds: int | None = None
    """How old a stale answer is."""


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
        cache=ToolCache(ttl_seconds=300, scope="shared", stale_seconds=3600),
    )(get_forecast)
