"""Observe every MCP request inside the SDK: metrics, one log record per tool call, the audit trail.

Registered as the outermost of this project's SDK middleware, so it sees refusals from the
scope and limit middleware as well as tool results and protocol errors.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pydantic_core
from loguru import logger
from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import CallToolResult
from pydantic import BaseModel

from ..principal import current_principal
from .audit import canonical_json, digest_of, preview_json, record_tool_call
from .metrics import Metrics
from .redaction import redact
from .request_context import current_request_id, request_facts_var
from .tracing import current_trace_id


def _error_type(result: object) -> str | None:
    """None for success; else the structured `error` of an isError result, or "tool_error"."""
    structured: Any
    if isinstance(result, CallToolResult):  # the usual case: read two fields, dump nothing
        failed, structured = bool(result.is_error), result.structured_content
    else:
        data = result.model_dump(by_alias=True) if isinstance(result, BaseModel) else result
        if not isinstance(data, dict):
            return None
        failed, structured = bool(data.get("isError")), data.get("structuredContent")
    if not failed:
        return None
    error = structured.get("error") if isinstance(structured, dict) else None
    return error if isinstance(error, str) and error.isidentifier() else "tool_error"


def sent_bytes(result: HandlerResult) -> int:
    """Bytes of `result` as the transport serializes it: camelCase aliases, no nulls, no whitespace."""
    if result is None:
        return 0
    if isinstance(result, BaseModel):
        return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())
    return len(pydantic_core.to_json(result))


def observe(metrics: Metrics, transport: str, *, audit: bool = True) -> ServerMiddleware[Any]:
    """SDK middleware recording duration, outcome and size of every request."""
    network = "tcp" if transport == "http" else "pipe"

    async def middleware(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method = metrics.method_label(ctx.method)
        version = metrics.version_label(ctx.protocol_version)
        params = ctx.params or {}
        tool = metrics.tool_label(params.get("name")) if ctx.method == "tools/call" else ""
        started = time.perf_counter()
        error_type: str | None = None
        result: HandlerResult = None
        if ctx.method == "tools/call":
            metrics.in_flight.inc()
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            error_type = f"jsonrpc_{abs(exc.error.code)}"
            raise
        except anyio.get_cancelled_exc_class():
            error_type = "cancelled"
            raise
        except Exception:
            error_type = "internal"
            raise
        else:
            error_type = _error_type(result) if ctx.method == "tools/call" else None
            return result
        finally:
            seconds = time.perf_counter() - started
            metrics.operation(method, tool, error_type or "", network, version).observe(seconds)
            if ctx.method == "tools/call":
                metrics.in_flight.dec()
                # Over HTTP without authentication the caller is anonymous, not the trusted local user.
                anonymous = ctx.request is not None
                _tool_call_done(metrics, params, tool, error_type, result, seconds, audit=audit, anonymous=anonymous)

    return middleware


def _tool_call_done(
    metrics: Metrics,
    params: Any,
    tool: str,
    error_type: str | None,
    result: HandlerResult,
    seconds: float,
    *,
    audit: bool,
    anonymous: bool,
) -> None:
    size = sent_bytes(result)
    metrics.result_size(tool).observe(size)
    if error_type:
        metrics.tool_errors.labels(tool, error_type).inc()
        if error_type == "rate_limited":
            metrics.rate_limited.labels("tool").inc()
    principal = current_principal()
    who = "anonymous" if anonymous and not principal.authenticated else principal.id
    arguments = params.get("arguments") or {}
    canonical = canonical_json(arguments)
    arguments_digest = digest_of(canonical)
    request_id = current_request_id()
    name = redact(str(params.get("name", "")), 64)  # cut where no credential is left half-visible
    outcome = "ok" if error_type is None else error_type
    duration_ms = round(seconds * 1000, 3)
    fields = {
        "principal": who,
        "tool": name,
        "outcome": outcome,
        "duration_ms": duration_ms,
        "result_bytes": size,
        "arguments_sha256": arguments_digest,
        "trace_id": current_trace_id(),
    }
    facts = request_facts_var.get()
    if facts is not None:
        facts.update(fields)  # the HTTP request's own record carries the call
    else:
        logger.bind(request_id=request_id, **fields).info("Tool call {} -> {}", name, outcome)
    if audit:
        shown, complete = preview_json(arguments, canonical)
        idempotency_key = arguments.get("idempotency_key") if isinstance(arguments, dict) else None
        record_tool_call(
            request_id=request_id,
            principal=who,
            client_id=principal.client_id,
            issuer=principal.issuer,
            tool=name,
            arguments_sha256=arguments_digest,
            arguments_preview_json=shown,
            preview_complete=complete,
            idempotency_key=idempotency_key if isinstance(idempotency_key, str) else None,
            outcome=outcome,
            duration_ms=duration_ms,
            result_bytes=size,
        )
