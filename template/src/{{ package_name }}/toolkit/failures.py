"""Tool errors a model can act on: `raise tool_failure(...)` or `raise upstream_failure(exc)`.

The client gets `isError` with one sentence saying what happened and what to do, and
structured content `{"error_type", "retry_after_seconds", "fallback_tool"}`:

- `transient`: retry (after `retry_after_seconds` when given);
- `rate_limited`: wait `retry_after_seconds`, then retry;
- `input`: change the arguments, do not retry as is;
- `fatal`: do not retry; the text says what must be fixed first.

`ErrorContractServer` turns the raised `ActionableToolError` into that result.
"""

from __future__ import annotations

import math

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from ..upstreams.client import ErrorType, UpstreamError


class ActionableToolError(ToolError):
    """A tool failure with a kind, a wait and an alternative; see `tool_failure`."""

    def __init__(
        self,
        message: str,
        *,
        error_type: ErrorType,
        retry_after_seconds: int | None = None,
        fallback_tool: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type: ErrorType = error_type
        self.retry_after_seconds = retry_after_seconds
        self.fallback_tool = fallback_tool

    def advice(self) -> str:
        """What the model should do next, in one sentence."""
        wait = self.retry_after_seconds
        if self.error_type == "transient":
            return f"This is temporary: retry the same call{f' in {wait} s' if wait else ''}."
        if self.error_type == "rate_limited":
            return f"Wait {wait or 1} s, then retry the same call."
        if self.error_type == "input":
            return "Change the arguments before calling again: the same call will fail the same way."
        return "Do not retry: it will keep failing until this is fixed, so tell the user what must be fixed first."

    def result(self) -> CallToolResult:
        """The `isError` result the client receives."""
        text = f"{self} {self.advice()}"
        if self.fallback_tool is not None and self.error_type != "input":
            text += f" Meanwhile, the tool {self.fallback_tool} may answer instead."
        structured = {
            "error_type": self.error_type,
            "retry_after_seconds": self.retry_after_seconds,
            "fallback_tool": self.fallback_tool,
        }
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=structured, is_error=True
        )


def tool_failure(
    message: str,
    error_type: ErrorType,
    *,
    retry_after_seconds: float | None = None,
    fallback_tool: str | None = None,
) -> ActionableToolError:
    """The failure to raise from a tool: `message` says what happened, in one sentence ending in '.'."""
    wait = None if retry_after_seconds is None else max(1, math.ceil(retry_after_seconds))
    return ActionableToolError(message, error_type=error_type, retry_after_seconds=wait, fallback_tool=fallback_tool)


def upstream_failure(exc: UpstreamError, *, fallback_tool: str | None = None) -> ActionableToolError:
    """The tool failure for an upstream call that failed (`raise upstream_failure(exc) from None`)."""
    message = str(exc)
    sentence = message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
    return tool_failure(
        sentence, exc.error_type, retry_after_seconds=exc.retry_after_seconds, fallback_tool=fallback_tool
    )
