"""Scope matching shared by the HTTP edge and the MCP layer.

Scopes are hierarchical on `:`: a grant of `notes` covers `notes:read` and `notes:write`;
`notes:read` covers only itself (and `notes:read:*` below it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def covers(granted: str, required: str) -> bool:
    """Whether the granted scope satisfies the required one."""
    return required == granted or required.startswith(granted + ":")


def missing_scopes(required: Iterable[str], granted: frozenset[str]) -> list[str]:
    """The required scopes that no granted scope covers, in the order required."""
    return [need for need in required if need not in granted and not any(covers(g, need) for g in granted)]


class ScopePolicy:
    """Which scopes each tool (and each static resource, by URI) needs; those not listed need none
    beyond authentication."""

    def __init__(
        self, required: Mapping[str, Iterable[str]], resources: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        self._required = {tool: tuple(sorted(set(scopes))) for tool, scopes in required.items() if scopes}
        self._resources = {uri: tuple(sorted(set(scopes))) for uri, scopes in (resources or {}).items() if scopes}

    def missing_for_resource(self, uri: str, granted: frozenset[str]) -> list[str]:
        """Scopes the caller lacks to read the resource at `uri`."""
        needed = self._resources.get(uri)
        return missing_scopes(needed, granted) if needed else []

    def hidden_resources(self, granted: frozenset[str]) -> frozenset[str]:
        """Resource URIs a caller with `granted` may not read (and so does not see)."""
        return frozenset(uri for uri, needed in self._resources.items() if missing_scopes(needed, granted))

    def required(self, tool: str) -> tuple[str, ...]:
        """Scopes `tool` needs (empty when it needs none)."""
        return self._required.get(tool, ())

    def missing(self, tool: str, granted: frozenset[str]) -> list[str]:
        """Scopes the caller lacks for `tool`."""
        needed = self._required.get(tool)
        return missing_scopes(needed, granted) if needed else []

    def hidden_tools(self, granted: frozenset[str]) -> frozenset[str]:
        """Tools a caller with `granted` may not call (and so does not see)."""
        return frozenset(tool for tool, needed in self._required.items() if missing_scopes(needed, granted))

    @property
    def all_scopes(self) -> list[str]:
        """Every scope some tool or resource needs, sorted."""
        every = [*self._required.values(), *self._resources.values()]
        return sorted({scope for scopes in every for scope in scopes})
