"""The SDK server with this project's error contract for tool calls.

- Arguments that fail validation come back as one actionable sentence per problem plus the
  accepted arguments, instead of pydantic's report (which echoes input and links to docs).
- A crash never reaches the client as text: the client gets a reference id, and the server
  log carries the same id with the traceback (without local variables).
- `ToolError` messages raised by tools pass through, with any credential in them redacted.
- An unknown tool name gets a pointer to tools/list.
- Results are compact and capped (see `toolkit.output`): minified JSON text, one copy of a
  structured result, and at most `max_result_bytes` with a truncation marker.
- Input schemas name their dialect (JSON Schema 2020-12) and refuse unknown arguments, as calls do.
- An `ActionableToolError` (see `toolkit.failures`) becomes an `isError` result with structured content
  saying its `error_type`, `retry_after_seconds` and `fallback_tool`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from loguru import logger
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.shared.exceptions import NoBackChannelError
from mcp.types import CallToolResult, InputRequiredResult, TextContent
from pydantic import ValidationError

from ..observability.redaction import redact
from ..observability.request_context import current_request_id
from .failures import ActionableToolError, tool_failure
from .output import capped, compact

LifespanT = TypeVar("LifespanT")

MAX_NAME_CHARS = 64


def new_reference() -> str:
    """The id that ties a client-visible error to its log records: the request id when there is one."""
    return current_request_id()


class ErrorContractServer(MCPServer[LifespanT]):
    """`MCPServer` whose tool failures are safe and actionable."""

    _arguments_by_tool: dict[str, frozenset[str]] | None = None

    def __init__(self, *args: Any, max_result_bytes: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_result_bytes = max_result_bytes
        """The largest result (its JSON as sent) a call returns uncut; None: no cap."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[LifespanT, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        result = await self._call_tool(name, arguments, context)
        if not isinstance(result, CallToolResult):
            return result
        shaped = compact(result)
        return shaped if self.max_result_bytes is None else capped(shaped, self.max_result_bytes, name[:MAX_NAME_CHARS])

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[LifespanT, Any] | None
    ) -> CallToolResult | InputRequiredResult:
        unknown = await self._unknown_arguments(name, arguments)
        if unknown:
            # The SDK ignores unknown arguments; a misspelt optional one would silently do nothing.
            schema = await self._input_schema(name)
            listed = ", ".join(repr(arg[:MAX_NAME_CHARS]) for arg in sorted(unknown)[:5])
            raise ToolError(
                f"Invalid arguments for {name}: {listed} is not an argument of this tool. "
                f"Accepted arguments: {accepted_arguments(schema)}."
            )
        try:
            return await super().call_tool(name, arguments, context)
        except NoBackChannelError as exc:
            return no_back_channel(name, exc)
        except UnexpectedToolError as exc:
            reference = new_reference()
            logger.opt(exception=exc.__cause__ or exc).bind(tool=name, reference=reference).error(
                "Tool {} raised an unexpected exception (reference {})", name, reference
            )
            raise ToolError(
                f"Error executing tool {name}: an internal error occurred (reference {reference}). "
                "Retrying will not help unless the problem was temporary."
            ) from None
        except ToolError as exc:
            if isinstance(exc.__cause__, ActionableToolError):
                return redacted(exc.__cause__.result())
            if isinstance(exc.__cause__, ValidationError):
                schema = await self._input_schema(name)
                raise ToolError(describe_invalid_arguments(name, exc.__cause__, schema)) from exc.__cause__
            message = str(exc)
            if exc.__cause__ is None and message == f"Unknown tool: {name}":
                shown = name[:MAX_NAME_CHARS]
                raise ToolError(f"Unknown tool {shown!r}. Call tools/list for the tools you may use.") from None
            safe = redact(message)
            if safe != message:
                raise ToolError(safe) from None
            raise

    async def _unknown_arguments(self, name: str, arguments: dict[str, Any]) -> set[str]:
        if self._arguments_by_tool is None:
            # Built once from the registered tools; tools are registered before serving starts.
            self._arguments_by_tool = {
                tool.name: frozenset(tool.input_schema.get("properties", {})) for tool in await self.list_tools()
            }
        accepted = self._arguments_by_tool.get(name)
        return set() if accepted is None else set(arguments) - accepted

    def add_tool(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self._arguments_by_tool = None
        super().add_tool(fn, *args, **kwargs)
        # Post-processed once here, so every tools/list says the same (private: the SDK has no hook).
        tool = self._tool_manager.get_tool(kwargs.get("name") or fn.__name__)
        if tool is not None:
            tool.parameters = input_schema_2020_12(tool.parameters)

    def remove_tool(self, name: str) -> None:
        self._arguments_by_tool = None
        super().remove_tool(name)

    async def _input_schema(self, name: str) -> dict[str, Any]:
        # Only on the error path, so listing every tool here costs nothing on successful calls.
        return next((tool.input_schema for tool in await self.list_tools() if tool.name == name), {})


JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def input_schema_2020_12(schema: dict[str, Any]) -> dict[str, Any]:
    """A tool's input schema as an explicit JSON Schema 2020-12 document (SEP-1613).

    Pydantic already writes 2020-12 keywords (`$defs`, `$ref`); this names the dialect with
    `$schema` and says `additionalProperties: false`, which is what `call_tool` enforces (an
    unknown argument is refused). A schema that says either already keeps its own.
    """
    if schema.get("type") != "object":
        return schema
    return {"$schema": JSON_SCHEMA_2020_12, **schema, "additionalProperties": schema.get("additionalProperties", False)}


def redacted(result: CallToolResult) -> CallToolResult:
    """`result` with any credential in its text redacted, like every other tool error."""
    for block in result.content:
        if isinstance(block, TextContent):
            block.text = redact(block.text)
    return result


def describe_invalid_arguments(tool: str, error: ValidationError, schema: dict[str, Any]) -> str:
    """'Invalid arguments for <tool>: <problem>; <problem>. Accepted arguments: <name (type)>, ...'."""
    problems = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        field = ".".join(str(part) for part in item["loc"])[:MAX_NAME_CHARS] or "arguments"
        if item["type"] == "missing":
            problems.append(f"{field!r} is required")
        elif item["type"] == "extra_forbidden":
            problems.append(f"{field!r} is not an argument of this tool")
        else:
            problems.append(f"{field!r}: {item['msg']}")
    return f"Invalid arguments for {tool}: {'; '.join(problems)}. Accepted arguments: {accepted_arguments(schema)}."


def accepted_arguments(schema: dict[str, Any]) -> str:
    """A one-line summary of a JSON Schema's properties: name (type, bounds, required)."""
    required = set(schema.get("required", []))
    parts = []
    for name, prop in schema.get("properties", {}).items():
        details = [_type_of(prop), *_bounds_of(prop)]
        if name in required:
            details.append("required")
        parts.append(f"{name} ({', '.join(details)})")
    return ", ".join(parts) or "none"


def _type_of(prop: dict[str, Any]) -> str:
    if "type" in prop:
        return str(prop["type"])
    options = [str(option.get("type", "object")) for option in prop.get("anyOf", [])]
    return " or ".join(options) if options else "any"


def _bounds_of(prop: dict[str, Any]) -> list[str]:
    candidates = [prop, *prop.get("anyOf", [])]
    bounds = []
    for candidate in candidates:
        if "minimum" in candidate or "maximum" in candidate:
            bounds.append(f"{candidate.get('minimum', '')}..{candidate.get('maximum', '')}")
        if "maxLength" in candidate:
            bounds.append(f"at most {candidate['maxLength']} characters")
    return bounds


def no_back_channel(tool: str, exc: NoBackChannelError) -> CallToolResult:
    """The tool asked the client something (elicitation, sampling, roots) on a request that cannot
    carry a request back: a stateless 2025-era call, or a 2026-07-28 call that asked outside a
    declared `Resolve`. The SDK's own answer is a protocol error (-32600, "Invalid Request")
    about a request that was valid; this says what has to change instead.
    """
    return tool_failure(
        f"{tool[:MAX_NAME_CHARS]} needs to ask the client ({exc.method[:MAX_NAME_CHARS]}), and this request has "
        "no channel back to the client: a 2025-era client needs a server with legacy sessions "
        "(HTTP__STATELESS_LEGACY=false); from a 2026-07-28 client the tool must ask through Resolve.",
        "fatal",
    ).result()
