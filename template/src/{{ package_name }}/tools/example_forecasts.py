"""Example fan-out tool: several forecasts in one call, and what is missing when some fail."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ..services import Services
from ..toolkit import MissingItem, Registry, gather_partial


class CityForecast(BaseModel):
    """Tomorrow's weather in one city."""

    city: str
    summary: str
    temperature_c: float


class ForecastsResult(BaseModel):
    """The forecasts that arrived; when `partial`, `missing` says which cities failed and why."""

    forecasts: list[CityForecast]
    partial: bool = Field(description="True when some cities are missing; retry only those")
    missing: list[MissingItem]


City = Annotated[str, Field(min_length=1, max_length=100)]


async def get_forecasts(
    cities: Annotated[list[City], Field(min_length=1, max_length=10, description="City names such as 'Lisbon'")],
    ctx: Context[Services],
) -> ForecastsResult:
    """Get tomorrow's weather forecast for up to 10 cities at once; cities that fail are listed as missing."""
    service = ctx.request_context.lifespan_context.forecasts
    unique = list(dict.fromkeys(cities))  # one upstream call per city, however often it is named

    async def fetch(city: str) -> CityForecast:
        forecast = await service.forecast(city)
        return CityForecast(city=forecast.city, summary=forecast.summary, temperature_c=forecast.temperature_c)

    fetched = await gather_partial(unique, fetch, concurrency=4)
    return ForecastsResult(forecasts=fetched.values, partial=fetched.partial, missing=fetched.missing)


def register(registry: Registry) -> None:
    """Add the fan-out forecast tool."""
    registry.tool(
        title="Get forecasts",
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
        scopes=["forecasts:read"],
    )(get_forecasts)
