"""Example tools that ask the client mid-call: one asks the user (elicitation), one asks the
client's model (sampling).

Both work in either protocol era with no code of their own for it: a parameter filled by
`Resolve(...)` makes the SDK ask. A 2025-11-25 (or older) client is asked over the legacy back
channel while the call waits (a stateful session: `HTTP__STATELESS_LEGACY=false`); a 2026-07-28
client gets an input-required result, answers, and retries the call with the answers and the
sealed `requestState`, on any replica that shares `STATE__REQUEST_STATE_SECRET`.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve, Sample
from mcp.types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import BaseModel, Field

from ..services import Services
from ..services.example_notes import Note, NoteNotFoundError
from ..toolkit import Registry
from .example_notes import DESTRUCTIVE, NOTE_ID, READ_ONLY

MAX_TITLE_CHARS = 120


class DeleteConfirmation(BaseModel):
    """What the user is asked before a note is deleted."""

    confirm: bool = Field(description="Delete the note permanently")


class ConfirmedDeletion(BaseModel):
    """Whether the note was deleted, as the user chose."""

    deleted: bool
    note_id: str
    reason: str


class TitleSuggestion(BaseModel):
    """A title the client's model proposed for a note."""

    note_id: str
    current_title: str
    suggested_title: str


async def _note(note_id: str, ctx: Context[Services]) -> Note:
    try:
        return await ctx.request_context.lifespan_context.notes.get(note_id)
    except NoteNotFoundError:
        raise ToolError(f"No note has id {note_id!r}. Call search_notes or list_notes to find valid ids.") from None


async def ask_to_delete(note_id: str, ctx: Context[Services]) -> Elicit[DeleteConfirmation]:
    """The question; it reads the same on every round, as the SDK requires."""
    note = await _note(note_id, ctx)
    return Elicit(f"Delete the note {note.title!r} ({note.id}) permanently?", DeleteConfirmation)


async def delete_note_with_confirmation(
    note_id: NOTE_ID,
    answer: Annotated[ElicitationResult[DeleteConfirmation], Resolve(ask_to_delete)],
    ctx: Context[Services],
) -> ConfirmedDeletion:
    """Delete a note after the user confirms it; nothing is deleted unless they do."""
    if not isinstance(answer, AcceptedElicitation):
        return ConfirmedDeletion(deleted=False, note_id=note_id, reason=f"the user chose {answer.action}")
    if not answer.data.confirm:
        return ConfirmedDeletion(deleted=False, note_id=note_id, reason="the user did not confirm")
    try:
        await ctx.request_context.lifespan_context.notes.delete(note_id)
    except NoteNotFoundError:
        raise ToolError(f"Note {note_id!r} is already gone; nothing was deleted.") from None
    await ctx.notify_resource_updated(f"notes://{note_id}")
    return ConfirmedDeletion(deleted=True, note_id=note_id, reason="the user confirmed")


async def ask_for_title(note_id: str, ctx: Context[Services]) -> Sample:
    """The sampling request: the note's text goes to the client's model, never back unchecked."""
    note = await _note(note_id, ctx)
    prompt = f"Propose one short title (at most 8 words) for this note. Reply with the title only.\n\n{note.body}"
    return Sample(
        [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
        max_tokens=40,
        system_prompt="You write concise note titles.",
    )


async def suggest_note_title(
    note_id: NOTE_ID,
    sampled: Annotated[CreateMessageResult, Resolve(ask_for_title)],
    ctx: Context[Services],
) -> TitleSuggestion:
    """Ask the client's model to propose a better title for a note (the note is not changed)."""
    note = await _note(note_id, ctx)
    content = sampled.content
    text = content.text if isinstance(content, TextContent) else ""
    # The model's reply is untrusted: one line, bounded, before it reaches the caller.
    title = " ".join(text.split())[:MAX_TITLE_CHARS]
    if not title:
        raise ToolError("The client's model returned no text title; try again or pick a title yourself.")
    return TitleSuggestion(note_id=note.id, current_title=note.title, suggested_title=title)


def register(registry: Registry) -> None:
    """Add the tools that ask the client mid-call."""
    registry.tool(title="Delete note after confirming", annotations=DESTRUCTIVE, scopes=["notes:write"])(
        delete_note_with_confirmation
    )
    registry.tool(title="Suggest a note title", annotations=READ_ONLY, scopes=["notes:read"])(suggest_note_title)
