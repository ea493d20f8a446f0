"""The allow and deny lists, decided once at start-up for everything the server registered.

An item is exposed when no allow pattern of its kind exists or one matches it, and no deny
pattern matches it (deny wins). Tools and prompts are matched by name, resources by their URI
and resource templates by their URI template text (`notes://{note_id}`), with `fnmatchcase`
semantics. Every registered item's answer is computed here, so a request only looks names up
(a read through a template also matches its URI against the templates, as the SDK does next).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase, translate
from types import MappingProxyType

from mcp.shared.uri_template import UriTemplate

from ..project import ENV_PREFIX
from .settings import KINDS, ExposureSettings, Kind, split_pattern

WHAT: Mapping[Kind, str] = {"tool": "tool", "resource": "resource or resource template", "prompt": "prompt"}


def _any_of(globs: Sequence[str]) -> Callable[[str], bool] | None:
    """One compiled test for 'matches one of `globs`' (None when there are none)."""
    if not globs:
        return None
    match = re.compile("|".join(f"(?:{translate(glob)})" for glob in globs)).match
    return lambda name: match(name) is not None


class ExposureRules:
    """The allow and deny patterns by kind, compiled."""

    def __init__(self, settings: ExposureSettings) -> None:
        allow = [split_pattern(pattern) for pattern in settings.allow]
        deny = [split_pattern(pattern) for pattern in settings.deny]
        # Read-only views: one instance serves every request.
        self._patterns = MappingProxyType({"allow": tuple(settings.allow), "deny": tuple(settings.deny)})
        self._allow = MappingProxyType({kind: _any_of([glob for k, glob in allow if k == kind]) for kind in KINDS})
        self._deny = MappingProxyType({kind: _any_of([glob for k, glob in deny if k == kind]) for kind in KINDS})

    def restricts(self, kind: Kind) -> bool:
        """Whether some pattern applies to `kind`."""
        return self._allow[kind] is not None or self._deny[kind] is not None

    def exposes(self, kind: Kind, name: str) -> bool:
        """Whether the item of `kind` called `name` (a URI or URI template for resources) is offered."""
        allowed, denied = self._allow[kind], self._deny[kind]
        return (allowed is None or allowed(name)) and (denied is None or not denied(name))

    def unmatched(self, *, tools: Collection[str], resources: Collection[str], prompts: Collection[str]) -> list[str]:
        """A problem for every pattern that matches nothing registered (a typo would silently do nothing)."""
        registered: Mapping[Kind, Collection[str]] = {"tool": tools, "resource": resources, "prompt": prompts}
        problems = []
        for setting, patterns in self._patterns.items():
            for pattern in patterns:
                kind, glob = split_pattern(pattern)
                names = registered[kind]
                if not any(fnmatchcase(name, glob) for name in names):
                    problems.append(
                        f"{ENV_PREFIX}EXPOSURE__{setting.upper()} pattern {pattern!r} matches no registered "
                        f"{WHAT[kind]}; known: {sorted(names)}"
                    )
        return problems


@dataclass(frozen=True)
class Decided:
    """Every registered item of one kind, decided; names registered later are decided by the rules."""

    registered: frozenset[str]
    hidden: frozenset[str]
    exposes: Callable[[str], bool]

    def hides(self, name: str) -> bool:
        """Whether the item called `name` is switched off here."""
        return name in self.hidden if name in self.registered else not self.exposes(name)


def _decide(rules: ExposureRules, kind: Kind, names: Iterable[str]) -> Decided:
    registered = frozenset(names)
    hidden = frozenset(name for name in registered if not rules.exposes(kind, name))
    return Decided(registered, hidden, lambda name: rules.exposes(kind, name))


@dataclass(frozen=True)
class Exposure:
    """What the server offers on every transport, decided at start-up."""

    tools: Decided
    prompts: Decided
    resources: Decided
    """Static resources by URI and resource templates by URI template text, as the lists show them."""
    static_resources: frozenset[str]
    templates: tuple[tuple[UriTemplate, bool], ...]
    """Every resource template in the order the SDK tries them, and whether it is hidden."""
    filters_resources: bool

    @classmethod
    def decide(
        cls, rules: ExposureRules, *, tools: Iterable[str], resources: Sequence[str], prompts: Iterable[str]
    ) -> Exposure:
        """Decide every registered item; `resources` are URIs and URI templates in registration order."""
        parsed = [(uri, UriTemplate.parse(uri)) for uri in resources]
        # As the SDK decides: a URI with template variables is a template, any other a static resource.
        templates = [(uri, template) for uri, template in parsed if template.variable_names]
        decided = _decide(rules, "resource", resources)
        return cls(
            tools=_decide(rules, "tool", tools),
            prompts=_decide(rules, "prompt", prompts),
            resources=decided,
            static_resources=frozenset(resources) - {uri for uri, _ in templates},
            templates=tuple((template, uri in decided.hidden) for uri, template in templates),
            filters_resources=rules.restricts("resource"),
        )

    def hides_read(self, uri: str) -> bool:
        """Whether reading `uri` would reach a hidden resource, resolved as the SDK resolves it:
        a static resource with that URI first, else the first template that matches it."""
        if not self.filters_resources:
            return False
        if uri in self.static_resources:
            return uri in self.resources.hidden
        for template, hidden in self.templates:
            if template.match(uri) is not None:
                return hidden
        return self.resources.hides(uri)  # nothing registered serves it: the rules decide

    def exposed(self, scopes: Mapping[str, Sequence[str]]) -> dict[str, Sequence[str]]:
        """`scopes` (by tool) without the hidden tools: a disabled tool needs no scope anywhere."""
        return {tool: needed for tool, needed in scopes.items() if not self.tools.hides(tool)}
