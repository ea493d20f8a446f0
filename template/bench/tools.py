"""The two tools every benchmarked server exposes: a trivial one and a JSON transform."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field


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


TOOLS = (bench_echo, bench_transform)
