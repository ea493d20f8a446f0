"""Example service over an upstream HTTP API: one pooled client, retries and a breaker for free.

The upstream (`UPSTREAMS__EXAMPLE__BASE_URL`) answers `GET /forecast?city=<name>` with
`{"city": ..., "summary": ..., "temperature_c": ...}`. Every failure arrives as an
`UpstreamError` saying what a caller may do; the tool hands it to `upstream_failure`.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from ..upstreams import Upstream, UpstreamError


class Forecast(BaseModel):
    """Tomorrow's weather in one city, as the upstream reports it."""

    city: str
    summary: str
    temperature_c: float


class ForecastService:
    """Reads forecasts from the example upstream."""

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream

    async def forecast(self, city: str) -> Forecast:
        """Tomorrow's forecast for `city`.

        Raises:
            UpstreamError: the upstream failed, refused the city, is paused by its breaker,
                or answered something that is not a forecast.
        """
        response = await self._upstream.get("/forecast", params={"city": city})
        try:
            return Forecast.model_validate_json(response.content)
        except ValidationError:
            raise UpstreamError(
                self._upstream.name,
                "fatal",
                f"upstream {self._upstream.name!r} answered something that is not a forecast",
            ) from None
