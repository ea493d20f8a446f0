"""Example service: documents read from a directory the caller must not escape."""

from __future__ import annotations

from pathlib import Path

import anyio

from ..toolkit.safe_paths import resolve_inside

SAMPLE_DOCS = Path(__file__).parent / "example_docs_data"


class DocNotFoundError(LookupError):
    """No document at that path."""


class DocsLibrary:
    """Read-only access to the text files below `root`."""

    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self._root = root
        self._max_bytes = max_bytes

    async def names(self) -> list[str]:
        """Every document path, relative to the root, sorted."""
        files = await anyio.to_thread.run_sync(lambda: sorted(self._root.rglob("*.md")))
        return [str(path.relative_to(self._root)) for path in files]

    async def read(self, relative: str) -> str:
        """The text of one document (at most `max_bytes`).

        Raises:
            UnsafePathError: the path is malformed or leaves the root.
            DocNotFoundError: there is no such document.
        """
        path = resolve_inside(self._root, relative)
        if not path.is_file():
            raise DocNotFoundError(relative)
        data = await anyio.Path(path).read_bytes()
        return data[: self._max_bytes].decode("utf-8", errors="replace")
