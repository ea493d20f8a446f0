"""The seam between your `tools/` package and the server: registration and discovery.

Each public module in `tools/` defines `register(registry: Registry) -> None` and adds its
tools, resources and prompts there. The server imports every such module at start-up, in
name order, so adding a capability is one new file (plus its test); no template-owned file
needs an edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ToolRules:
    """What a tool declares about itself beyond its schema."""

    scopes: tuple[str, ...] = ()
    """Scopes an HTTP caller's credential must grant."""

    rate_per_second: float | None = None
    """Sustained calls per second per caller for this tool (None: only the caller's overall limit)."""

    burst: int | None = None
    """Calls a caller may make at once before `rate_per_second` applies (default: one second's worth)."""

    timeout_seconds: float | None = None
    """Longest a call may run before it is cancelled (None: the server-wide default)."""


class Registry:
    """What a tools module may register on the server."""

    def __init__(self, mcp: MCPServer[Any]) -> None:
        self._mcp = mcp
        self.rules: dict[str, ToolRules] = {}
        """What each registered tool declared: scopes, rate, timeout."""
        self.resources: list[str] = []
        """The URI of every registered resource and resource template, in registration order
        (the order the SDK tries templates in)."""
        self.resource_scopes: dict[str, tuple[str, ...]] = {}
        """Scopes an HTTP caller needs to see and read each static resource that declared some."""
        self.prompts: list[str] = []
        """The name of every registered prompt."""

    @property
    def server(self) -> MCPServer[Any]:
        """The SDK server, for anything the registry does not wrap."""
        return self._mcp

    def tool(
        self,
        *,
        name: str | None = None,
        title: str | None = None,
        annotations: ToolAnnotations | None = None,
        structured_output: bool | None = None,
        scopes: Sequence[str] = (),
        rate_per_second: float | None = None,
        burst: int | None = None,
        timeout_seconds: float | None = None,
    ) -> Callable[[F], F]:
        """Register an async function as a tool; its docstring is the description the model reads.

        `scopes` are the OAuth scopes (or API-key scopes) a caller needs: without them the call is
        refused with 403 and the tool is left out of the caller's tools/list. `rate_per_second` and
        `burst` add a per-caller limit for this tool; `timeout_seconds` overrides the default
        deadline. Settings (`LIMITS__TOOLS`) can override both per deployment.
        """

        def decorator(fn: F) -> F:
            if not (fn.__doc__ or "").strip():
                raise TypeError(f"tool {fn.__name__!r} needs a docstring: it is the description the model reads")
            if isinstance(scopes, str):
                raise TypeError(f"scopes of {fn.__name__!r} must be a list of strings, not one string")
            self._mcp.add_tool(fn, name=name, title=title, annotations=annotations, structured_output=structured_output)
            self.rules[name or fn.__name__] = ToolRules(
                scopes=tuple(scopes), rate_per_second=rate_per_second, burst=burst, timeout_seconds=timeout_seconds
            )
            return fn

        return decorator

    @property
    def scopes(self) -> dict[str, tuple[str, ...]]:
        """Scopes each registered tool needs (HTTP callers only; stdio trusts its user)."""
        return {name: rules.scopes for name, rules in self.rules.items()}

    def resource(
        self,
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        scopes: Sequence[str] = (),
    ) -> Callable[[F], F]:
        """Register a resource (static URI) or resource template (URI with `{params}`).

        `scopes` (static URIs only) are what an HTTP caller needs: without them the resource is
        left out of the caller's resources/list and reading it is refused.
        """
        if scopes and "{" in uri:
            raise TypeError(f"scopes are supported on static resources only, not on the template {uri!r}")
        if isinstance(scopes, str):
            raise TypeError(f"scopes of resource {uri!r} must be a list of strings, not one string")
        add = self._mcp.resource(uri, name=name, title=title, description=description, mime_type=mime_type)

        def decorator(fn: F) -> F:
            add(fn)
            if scopes:
                self.resource_scopes[uri] = tuple(scopes)
            if uri not in self.resources:  # a URI registered twice keeps its first place in the SDK too
                self.resources.append(uri)
            return fn

        return decorator

    def prompt(
        self,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
    ) -> Callable[[F], F]:
        """Register a prompt template."""
        add = self._mcp.prompt(name=name, title=title, description=description)

        def decorator(fn: F) -> F:
            add(fn)
            if (name or fn.__name__) not in self.prompts:
                self.prompts.append(name or fn.__name__)
            return fn

        return decorator


def register_package(package: str, registry: Registry) -> list[str]:
    """Import every public module of `package` and call its `register(registry)`; return their names.

    Raises:
        TypeError: a public module has no `register` function (prefix helpers with `_`).
    """
    root = importlib.import_module(package)
    names = sorted(info.name for info in pkgutil.iter_modules(root.__path__) if not info.name.startswith("_"))
    for name in names:
        module = importlib.import_module(f"{package}.{name}")
        register = getattr(module, "register", None)
        if not callable(register):
            raise TypeError(
                f"{package}.{name} has no register(registry) function; add one, or rename the module "
                f"to _{name} if it only holds helpers"
            )
        register(registry)
    return names
