"""The seam between your `tools/` package and the server: registration and discovery.

Each public module in `tools/` defines `register(registry: Registry) -> None` and adds its
tools, resources and prompts there. The server imports every such module at start-up, in
name order, so adding a capability is one new file (plus its test); no template-owned file
needs an edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from loguru import logger
from mcp import MCPError
from mcp.server import MCPServer
from mcp.types import (
    INTERNAL_ERROR,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    Icon,
    PromptReference,
    ToolAnnotations,
)

from ..caching.policy import ToolCache
from ..observability.request_context import current_request_id

F = TypeVar("F", bound=Callable[..., Any])

Completer = Callable[[Any, str, Mapping[str, str]], Awaitable[Sequence[str]]]
"""`async def complete(services, value, arguments) -> [suggestions]`: `value` is what the user has
typed so far, `arguments` the other arguments already chosen."""

MAX_COMPLETIONS = 100
"""The most values one completion answer may carry (the spec's limit); `total` says how many exist."""


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

    cache: ToolCache | None = None
    """How the tool's successful results are cached (None: never)."""


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
        self.completers: dict[tuple[str, str, str], Completer] = {}
        """("prompt", name, argument) or ("resource", uri template, argument) -> its completer."""

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
        icons: Sequence[Icon] = (),
        scopes: Sequence[str] = (),
        rate_per_second: float | None = None,
        burst: int | None = None,
        timeout_seconds: float | None = None,
        cache: ToolCache | None = None,
    ) -> Callable[[F], F]:
        """Register an async function as a tool; its docstring is the description the model reads.

        `scopes` are the OAuth scopes (or API-key scopes) a caller needs: without them the call is
        refused with 403 and the tool is left out of the caller's tools/list. `rate_per_second` and
        `burst` add a per-caller limit for this tool; `timeout_seconds` overrides the default
        deadline. Settings (`LIMITS__TOOLS`) can override both per deployment. `cache` serves
        repeated calls from the response cache (read-only tools only; see `caching.ToolCache`).
        `icons` are shown by clients that draw them (use https or data: URIs).
        """

        def decorator(fn: F) -> F:
            if not (fn.__doc__ or "").strip():
                raise TypeError(f"tool {fn.__name__!r} needs a docstring: it is the description the model reads")
            if isinstance(scopes, str):
                raise TypeError(f"scopes of {fn.__name__!r} must be a list of strings, not one string")
            if cache is not None and annotations is not None and annotations.read_only_hint is not True:
                raise TypeError(
                    f"tool {fn.__name__!r} declares a cache but is not read-only; cache read-only tools only"
                )
            self._mcp.add_tool(
                fn,
                name=name,
                title=title,
                annotations=annotations,
                icons=list(icons) or None,
                structured_output=structured_output,
            )
            self.rules[name or fn.__name__] = ToolRules(
                scopes=tuple(scopes),
                rate_per_second=rate_per_second,
                burst=burst,
                timeout_seconds=timeout_seconds,
                cache=cache,
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
        icons: Sequence[Icon] = (),
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
        add = self._mcp.resource(
            uri, name=name, title=title, description=description, mime_type=mime_type, icons=list(icons) or None
        )

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
        icons: Sequence[Icon] = (),
    ) -> Callable[[F], F]:
        """Register a prompt template."""
        add = self._mcp.prompt(name=name, title=title, description=description, icons=list(icons) or None)

        def decorator(fn: F) -> F:
            add(fn)
            if (name or fn.__name__) not in self.prompts:
                self.prompts.append(name or fn.__name__)
            return fn

        return decorator

    def completion(self, *, argument: str, prompt: str | None = None, resource: str | None = None) -> Callable[[F], F]:
        """Register a completer for one argument of a prompt or one variable of a resource template.

        The completer gets your services, the text typed so far and the arguments already chosen,
        and returns suggestions (the first 100 are sent, with the total). Register the prompt or
        template first: naming one that does not exist is an error, not a silent no-op.
        """
        if (prompt is None) == (resource is None):
            raise TypeError("completion needs exactly one of prompt= or resource=")
        if prompt is not None and prompt not in self.prompts:
            raise TypeError(f"completion for unknown prompt {prompt!r}; registered: {self.prompts}")
        if resource is not None and (resource not in self.resources or "{" + argument + "}" not in resource):
            raise TypeError(
                f"completion for {argument!r} of {resource!r}: not a registered template with that variable"
            )
        key = ("prompt", prompt) if prompt is not None else ("resource", str(resource))

        def decorator(fn: F) -> F:
            if not self.completers:  # the capability is advertised once something completes
                self._mcp._lowlevel_server.add_request_handler(  # private: the public hook hides the services
                    "completion/complete", CompleteRequestParams, self._complete
                )
            self.completers[(*key, argument)] = fn
            return fn

        return decorator

    async def _complete(self, ctx: Any, params: CompleteRequestParams) -> CompleteResult:
        ref, argument = params.ref, params.argument
        key = ("prompt", ref.name) if isinstance(ref, PromptReference) else ("resource", ref.uri)
        completer = self.completers.get((*key, argument.name))
        if completer is None:
            return CompleteResult(completion=Completion(values=[]))
        chosen = dict(params.context.arguments or {}) if params.context is not None else {}
        try:
            values = [str(value) for value in await completer(ctx.lifespan_context, argument.value, chosen)]
        except MCPError:
            raise
        except Exception as exc:  # noqa: BLE001  # any crash: a reference for the client, the traceback in the log
            reference = current_request_id()
            logger.opt(exception=exc).error("Completer for {} raised (reference {})", argument.name, reference)
            raise MCPError(
                code=INTERNAL_ERROR, message=f"Error completing {argument.name[:64]!r} (reference {reference})"
            ) from None
        return CompleteResult(
            completion=Completion(
                values=values[:MAX_COMPLETIONS], total=len(values), has_more=len(values) > MAX_COMPLETIONS
            )
        )


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
