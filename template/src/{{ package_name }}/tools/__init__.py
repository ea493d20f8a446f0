"""Your tools: thin adapters from MCP calls to `services/`.

Every public module here defines `register(registry)`; `register_tools` imports them all in
name order. Prefix helper modules with `_`. This file belongs to you: the template seeds it
once and never updates it, so you may register conditionally or in another order.
"""

from ..toolkit import Registry, register_package


def register_tools(registry: Registry) -> None:
    """Register every tool, resource and prompt of this package."""
    register_package(__name__, registry)
