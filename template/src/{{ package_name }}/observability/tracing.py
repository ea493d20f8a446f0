"""Optional OpenTelemetry export: the SDK already creates a span per MCP message; this ships them.

Off by default (spans stay no-ops and cost almost nothing). Set `OBSERVABILITY__OTLP_ENDPOINT`
and install the `otel` extra (`uv sync --extra otel`) to export over OTLP/HTTP.
"""

from __future__ import annotations

from opentelemetry import trace


def current_trace_id() -> str | None:
    """The trace id of the active span as 32 hex digits, when a real span is recording."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def configure_tracing(endpoint: str | None, service_name: str) -> None:
    """Export spans to `endpoint` (an OTLP/HTTP traces URL); do nothing when it is None.

    Raises:
        RuntimeError: export is asked for but the exporter packages are not installed.
    """
    if endpoint is None:
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError(
            "OBSERVABILITY__OTLP_ENDPOINT is set but OpenTelemetry export is not installed: "
            "run `uv sync --extra otel` (or add the `otel` extra to your image)"
        ) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
