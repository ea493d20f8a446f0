"""Your services: plain async Python that knows nothing of MCP or HTTP.

`open_services` opens every client, pool or store once at start-up and closes it on shutdown;
tools reach the result as `ctx.request_context.lifespan_context`. `upstreams` hands out one
pooled HTTP client per configured upstream (`UPSTREAMS__<NAME>__BASE_URL`), with retries and
a circuit breaker: open each one you call here. This file belongs to you:
the template seeds it once and never updates it.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..toolkit.idempotency import IdempotencyCache
from ..upstreams import Upstreams
from .example_docs import DocsLibrary
from .example_forecast import ForecastService
from .example_notes import NoteStore
from .example_reports import ReportBuilder
from .settings import ServiceSettings


@dataclass(frozen=True)
class Services:
    """Everything tools may call, created once per process."""

    notes: NoteStore
    reports: ReportBuilder
    docs: DocsLibrary
    idempotency: IdempotencyCache
    forecasts: ForecastService


@asynccontextmanager
async def open_services(settings: ServiceSettings, upstreams: Upstreams) -> AsyncIterator[Services]:
    """Open the services for the lifetime of the server."""
    async with upstreams.open("example") as example:
        yield Services(
            notes=NoteStore(),
            reports=ReportBuilder(step_seconds=settings.report_step_seconds),
            docs=DocsLibrary(settings.docs_root, max_bytes=settings.docs_max_bytes),
            idempotency=IdempotencyCache(ttl_seconds=settings.idempotency_ttl_seconds),
            forecasts=ForecastService(example),
        )
