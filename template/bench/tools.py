"""The tools every benchmarked server exposes: a trivial one, a JSON transform, and a lookup
in a slow backend that the production stack answers from its response cache."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from pydantic import Field

BACKEND_SECONDS = 0.02
"""What one `bench_lookup` costs without the cache: a typical upstream round trip."""


async def bench_echo(text: Annotated[str, Field(max_length=1000)]) -> str:
    """Return the text unchanged."""
    return text


async def bench_transform(
    items: Annotated[list[dict[str, Any]], Field(max_length=100)],
    key: Annotated[str, Field(max_length=50)] = "value",
) -> dict[str, Any]:
    """Sort items by a key, and sum and count them."""
    ordered = sorted(items, key=lambda item: str(item.get(key, "")))
    total = sum(item.get(key, 0) for item in items if isinstance(item.get(key), int | float))
    return {"items": ordered, "count": len(items), "total": total}


async def bench_lookup(key: Annotated[str, Field(max_length=100)]) -> dict[str, Any]:
    """Look a key up in a slow backend (20 ms a call); the production stack caches the answer."""
    await anyio.sleep(BACKEND_SECONDS)
    return {"key": key, "value": sum(map(ord, key))}


TOOLS = (bench_echo, bench_transform, bench_lookup)
