"""The baseline: the bare SDK `MCPServer` with the same tools, no auth, limits, metrics or logging."""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from .tools import TOOLS


def create_app() -> Starlette:
    """uvicorn factory for the bare server (legacy leg stateless, SSE responses: the SDK defaults
    a production deployment would use)."""
    mcp: MCPServer[object] = MCPServer(name="bare", subscriptions=False)
    for tool in TOOLS:
        mcp.add_tool(tool)
    return mcp.streamable_http_app(
        stateless_http=True, transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False)
    )
