"""Exposure settings: glob patterns that switch tools, resources and prompts off without a code change."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["tool", "resource", "prompt"]
KINDS: tuple[Kind, ...] = ("tool", "resource", "prompt")

PATTERN_FORMS = "tool:NAME_GLOB, resource:URI_GLOB or prompt:NAME_GLOB (globs use * ? [...]), e.g. tool:delete_*"


def split_pattern(pattern: str) -> tuple[Kind, str]:
    """The kind and the glob of a pattern such as `tool:delete_*`.

    Raises:
        ValueError: it does not start with a known kind, or its glob is empty.
    """
    kind, colon, glob = pattern.partition(":")
    for known in KINDS:
        if colon and kind == known and glob:
            return known, glob
    raise ValueError(f"{pattern[:100]!r} is not a pattern; write {PATTERN_FORMS}")


class ExposureSettings(BaseModel):
    """The operator's switches over what the server offers; an item is offered when it matches an
    allow pattern of its kind (or its kind has none) and no deny pattern."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a silent default

    allow: list[str] = Field(default_factory=list)
    """Only matching items of a kind are offered, e.g. ["tool:search_*", "tool:list_*"]; a kind
    without an allow pattern is not restricted by this list."""

    deny: list[str] = Field(default_factory=list)
    """Matching items are never offered, even when an allow pattern matches them too, e.g.
    ["tool:delete_*", "resource:notes://*"]."""

    @field_validator("allow", "deny")
    @classmethod
    def _patterns_name_a_kind(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            split_pattern(pattern)
        return patterns
