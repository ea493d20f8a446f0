"""Resolve a caller-supplied relative path strictly inside an allowed root directory.

Refuses empty paths, NUL bytes, backslashes, percent signs (no second decoding pass can
smuggle `..%2f`), absolute paths, `..` components, and anything whose real path (after
following symlinks) is outside the root, including sibling directories that merely share a
prefix (`/srv/docs_evil` is not inside `/srv/docs`).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

MAX_PATH_CHARS = 255


class UnsafePathError(ValueError):
    """The path is malformed or leaves the allowed root."""


def resolve_inside(root: Path, relative: str) -> Path:
    """The real path of `relative` under `root`.

    Raises:
        UnsafePathError: `relative` is malformed or resolves outside `root`.
    """
    if not relative or len(relative) > MAX_PATH_CHARS:
        raise UnsafePathError(f"use a relative path of 1-{MAX_PATH_CHARS} characters")
    if any(ch in relative for ch in ("\x00", "\\", "%")):
        raise UnsafePathError("the path may not contain NUL, backslash or '%'")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or any(part == ".." for part in pure.parts):
        raise UnsafePathError("the path must be relative and may not contain '..'")
    base = root.resolve()
    candidate = (base / pure).resolve()
    if not candidate.is_relative_to(base):
        raise UnsafePathError("the path leaves the allowed directory")
    return candidate
