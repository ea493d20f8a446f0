"""Example tools over the note store: read-only search, cursor pages, an idempotent delete,
a resource, a resource template and a prompt. Copy the shapes; replace the domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ..principal import current_principal
from ..services import Services
from ..services.example_notes import InvalidCursorError, Note, NoteNotFoundError
from ..toolkit import Registry
from ..toolkit.idempotency import IdempotencyInProgressError, IdempotencyKeyReusedError

NOTE_ID = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Note id such as 'n-001'")]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
MAX_COMPLETION_PAGES = 20
"""How many pages of notes one completion reads at most."""

DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


class NoteSummary(BaseModel):
    """A note without its body."""

    id: str
    title: str
    tags: list[str]

    @classmethod
    def of(cls, note: Note) -> NoteSummary:
        return cls(id=note.id, title=note.title, tags=list(note.tags))


class SearchResult(BaseModel):
    """Notes matching a search."""

    notes: list[NoteSummary]


class NotePage(BaseModel):
    """One page of notes."""

    notes: list[NoteSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page")


class Deletion(BaseModel):
    """What a delete removed."""

    deleted_id: str
    title: str


async def search_notes(
    query: Annotated[str, Field(min_length=1, max_length=200, description="Text to find in titles and bodies")],
    ctx: Context[Services],
    tag: Annotated[str | None, Field(max_length=50, description="Only notes with this tag")] = None,
    limit: Annotated[int, Field(ge=1, le=50, description="Most notes to return")] = 10,
) -> SearchResult:
    """Find notes whose title or body contains the query text (case-insensitive)."""
    notes = await ctx.request_context.lifespan_context.notes.search(query, tag=tag, limit=limit)
    return SearchResult(notes=[NoteSummary.of(n) for n in notes])


async def list_notes(
    ctx: Context[Services],
    cursor: Annotated[str | None, Field(max_length=200, description="next_cursor of the previous page")] = None,
    page_size: Annotated[int, Field(ge=1, le=50, description="Notes per page")] = 20,
) -> NotePage:
    """List all notes, one page at a time. Pass next_cursor back as cursor until it is null."""
    try:
        notes, next_cursor = await ctx.request_context.lifespan_context.notes.page(cursor, page_size)
    except InvalidCursorError:
        raise ToolError(
            "cursor is not valid: pass the next_cursor of a previous list_notes result, or omit it to start over"
        ) from None
    return NotePage(notes=[NoteSummary.of(n) for n in notes], next_cursor=next_cursor)


async def delete_note(
    note_id: NOTE_ID,
    idempotency_key: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9_.:-]{8,128}$",
            description="Unique per intended deletion (e.g. a UUID); reuse it when retrying",
        ),
    ],
    ctx: Context[Services],
) -> Deletion:
    """Delete a note permanently. A retry with the same idempotency_key returns the first result."""
    services = ctx.request_context.lifespan_context
    try:
        # Keys are per caller: one principal can neither replay nor block another's deletion.
        key = ("delete_note", current_principal().id, idempotency_key)
        note = await services.idempotency.run(key, note_id, lambda: services.notes.delete(note_id), result_type=Note)
    except NoteNotFoundError:
        raise ToolError(f"No note has id {note_id!r}. Call search_notes or list_notes to find valid ids.") from None
    except IdempotencyKeyReusedError:
        raise ToolError(
            "This idempotency_key was already used to delete a different note; use a new key for a new deletion."
        ) from None
    except IdempotencyInProgressError:
        raise ToolError("A deletion with this idempotency_key is still running; retry in a moment.") from None
    # Subscribers of the note's resource hear of it (HTTP__SUBSCRIPTIONS; every replica with Redis).
    await ctx.notify_resource_updated(f"notes://{note.id}")
    return Deletion(deleted_id=note.id, title=note.title)


def notes_guide() -> str:
    """How to work with the note tools."""
    return (
        "# Notes\n\n"
        "- search_notes finds notes by text and tag.\n"
        "- list_notes pages through every note; pass next_cursor back as cursor.\n"
        "- delete_note needs an idempotency_key; reuse it when retrying.\n"
        "- Read notes://{note_id} for a note's full text.\n"
    )


async def note_text(note_id: str, ctx: Context[Services]) -> str:
    """The full text of one note, as Markdown."""
    try:
        note = await ctx.request_context.lifespan_context.notes.get(note_id)
    except NoteNotFoundError:
        raise ResourceNotFoundError(f"No note has id {note_id!r}; list ids with the list_notes tool.") from None
    return f"# {note.title}\n\n{note.body}\n\nTags: {', '.join(note.tags) or 'none'}\n"


def summarize_note(note_id: NOTE_ID) -> str:
    """Ask the model to summarize one note."""
    return f"Read the resource notes://{note_id} and summarize it in at most three bullet points."


async def complete_note_id(services: Services, value: str, _arguments: Mapping[str, str]) -> list[str]:
    """Note ids starting with what the user typed (for the prompt and the notes://{note_id} template)."""
    ids: list[str] = []
    cursor = None
    for _ in range(MAX_COMPLETION_PAGES):  # bounded: a store that never ends its pages cannot hang this
        notes, cursor = await services.notes.page(cursor, 50)
        ids.extend(note.id for note in notes if note.id.startswith(value))
        if cursor is None:
            break
    return ids


def register(registry: Registry) -> None:
    """Add the note tools, resources and prompt."""
    registry.tool(title="Search notes", annotations=READ_ONLY, scopes=["notes:read"])(search_notes)
    registry.tool(title="List notes", annotations=READ_ONLY, scopes=["notes:read"])(list_notes)
    registry.tool(title="Delete note", annotations=DESTRUCTIVE, scopes=["notes:write"])(delete_note)
    registry.resource("notes://guide", name="notes_guide", title="Notes guide", mime_type="text/markdown")(notes_guide)
    registry.resource("notes://{note_id}", name="note", title="Note", mime_type="text/markdown")(note_text)
    registry.prompt(title="Summarize a note")(summarize_note)
    registry.completion(prompt="summarize_note", argument="note_id")(complete_note_id)
    registry.completion(resource="notes://{note_id}", argument="note_id")(complete_note_id)
