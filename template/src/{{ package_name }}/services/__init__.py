"""Your services: plain async Python that knows nothing of MCP or HTTP.

`open_services` opens every client, pool or store once at start-up and closes it on shutdown;
tools reach the result as `ctx.request_context.lifespan_context`. This file belongs to you:
the template seeds it once and never updates it.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..toolkit.idempotency import IdempotencyCache
from .example_docs import DocsLibrary
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


@asynccontextmanager
async def open_services(settings: ServiceSettings) -> AsyncIterator[Services]:
    """Open the services for the lifetime of the server."""
    yield Services(
        notes=NoteStore(),
        reports=ReportBuilder(step_seconds=settings.report_step_seconds),
        docs=DocsLibrary(settings.docs_root, max_bytes=settings.docs_max_bytes),
        idempotency=IdempotencyCache(ttl_seconds=settings.idempotency_ttl_seconds),
    )
