"""The canary: a resource and a tool whose answer is deliberately absurd.

No model knows the phrase from its training, so an answer that quotes it came from this server,
and an answer that does not was made up. The phrase is a fixed setting (`CANARY__PHRASE`), the
same on every replica and never secret; `smoke` reads it both ways and compares. Template-owned:
the composition root registers it after your tools (`CANARY__ENABLED=false` leaves it out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from .registry import Registry

TOOL = "canary"
RESOURCE = "canary://phrase"

ABSURD = "Deliberately absurd, not a fact: quoting it proves the answer came from this server."

MARKER = Annotated[
    str,
    Field(
        default="",
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="Any short token (letters, digits, - or _); it is echoed back to tie the answer to this call",
    ),
]


class CanaryAnswer(BaseModel):
    """The canary phrase, and the marker the call carried."""

    phrase: str
    marker: str


def register_canary(registry: Registry, *, phrase: str, scopes: Sequence[str] = ()) -> None:
    """Add the canary resource and the tool that reads it; `scopes` are what a caller needs to see them."""

    async def canary(marker: MARKER = "") -> CanaryAnswer:
        # The docstring is set below: it names the phrase's nature, which is what the model reads.
        return CanaryAnswer(phrase=phrase, marker=marker)

    async def canary_phrase() -> str:
        return phrase

    canary.__doc__ = f"Return this server's test phrase ({RESOURCE}). {ABSURD}"
    registry.tool(
        name=TOOL,
        title="Canary",
        annotations=ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
        scopes=scopes,
    )(canary)
    registry.resource(
        RESOURCE,
        name="canary_phrase",
        title="Canary phrase",
        description=f"This server's test phrase. {ABSURD}",
        mime_type="text/plain",
        scopes=scopes,
    )(canary_phrase)
