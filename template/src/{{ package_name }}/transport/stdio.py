"""stdio transport: one client on stdin/stdout; the local user is trusted."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server import MCPServer


def serve_stdio(mcp: MCPServer[Any]) -> None:
    """Serve both protocol eras on stdin/stdout until the client closes stdin."""
    anyio.run(mcp.run_stdio_async)
