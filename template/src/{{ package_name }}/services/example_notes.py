"""Example service: an in-memory note store with search, cursor pages and deletion.

Replace it with your real backend; keep the shape: async methods, domain errors, no MCP types.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

import anyio


class NoteNotFoundError(LookupError):
    """No note has the requested id."""

    def __init__(self, note_id: str) -> None:
        super().__init__(note_id)
        self.note_id = note_id


class InvalidCursorError(ValueError):
    """A page cursor was not produced by this store."""


@dataclass(frozen=True)
class Note:
    """One note."""

    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()


SAMPLE_NOTES = (
    Note("n-001", "Release checklist", "Tag, build the image, update the chart, announce.", ("ops", "release")),
    Note("n-002", "On-call handbook", "Page the primary, then the secondary after 15 minutes.", ("ops",)),
    Note("n-003", "API style", "Nouns for resources, verbs for tools, snake_case everywhere.", ("dev",)),
    Note("n-004", "Incident 42", "Redis failover took 90 s; rate limits failed open as configured.", ("ops", "redis")),
    Note("n-005", "Onboarding", "Clone, make setup, make run, make check.", ("dev", "docs")),
)


def _encode_cursor(note_id: str) -> str:
    return base64.urlsafe_b64encode(note_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursorError(cursor) from exc


class NoteStore:
    """Notes kept in memory, ordered by id."""

    def __init__(self, notes: Iterable[Note] = SAMPLE_NOTES) -> None:
        self._notes = {note.id: note for note in sorted(notes, key=lambda n: n.id)}
        self._lock = anyio.Lock()

    async def get(self, note_id: str) -> Note:
        """Return one note."""
        try:
            return self._notes[note_id]
        except KeyError:
            raise NoteNotFoundError(note_id) from None

    async def search(self, query: str, *, tag: str | None = None, limit: int = 10) -> list[Note]:
        """Return notes whose title or body contains `query` (case-insensitive)."""
        needle = query.casefold()
        hits = (
            note
            for note in self._notes.values()
            if (needle in note.title.casefold() or needle in note.body.casefold()) and (tag is None or tag in note.tags)
        )
        return [note for _, note in zip(range(limit), hits, strict=False)]

    async def page(self, cursor: str | None, page_size: int) -> tuple[list[Note], str | None]:
        """Return up to `page_size` notes after `cursor`, and the cursor of the next page (None at the end)."""
        after = _decode_cursor(cursor) if cursor else ""
        if cursor and after not in self._notes:
            raise InvalidCursorError(cursor)
        remaining = [note for note_id, note in self._notes.items() if note_id > after]
        items = remaining[:page_size]
        next_cursor = _encode_cursor(items[-1].id) if len(remaining) > page_size else None
        return items, next_cursor

    async def delete(self, note_id: str) -> Note:
        """Remove a note and return it."""
        async with self._lock:
            try:
                return self._notes.pop(note_id)
            except KeyError:
                raise NoteNotFoundError(note_id) from None
