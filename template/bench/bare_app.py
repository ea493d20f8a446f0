"""The baselines: the bare SDK `MCPServer` with the same tools, no auth, limits, metrics or logging.

`create_app` is the fastest bare configuration: async tools, quiet logs, stateless legacy leg and
plain JSON answers (`json_response=True`), what a hand-rolled server tuned for speed runs and the
one the production ratio is taken against. `create_sse_app` is the SDK's default framing (SSE),
reported beside it for reference.
"""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from .tools import TOOLS


def _bare(*, json_response: bool) -> Starlette:
    mcp: MCPServer[object] = MCPServer(name="bare", subscriptions=False)
    for tool in TOOLS:
        mcp.add_tool(tool)
    return mcp.streamable_http_app(
        stateless_http=True,
        json_response=json_response,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )


def create_app() -> Starlette:
    """uvicorn factory for the fastest bare server (JSON answers)."""
    return _bare(json_response=True)


def create_sse_app() -> Starlette:
    """uvicorn factory for the bare server with the SDK's default SSE framing."""
    return _bare(json_response=False)
