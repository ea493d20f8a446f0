"""Turn on logging, the audit trail and (optionally) trace export, once per process."""

from __future__ import annotations

from .audit import configure_audit
from .logging import configure_logging
from .tracing import configure_tracing


def configure_observability(
    *, level: str, json_lines: bool, audit_sink: str, otlp_endpoint: str | None, service_name: str, stdio: bool
) -> None:
    """Logs to stderr, audit records to their sink, spans to OTLP when configured.

    On stdio, stdout carries the protocol, so an audit sink of "stdout" moves to stderr.
    """
    configure_logging(level, json_lines=json_lines)
    configure_audit("stderr" if stdio and audit_sink == "stdout" else audit_sink)
    configure_tracing(otlp_endpoint, service_name)
