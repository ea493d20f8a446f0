"""Keep the garbage collector off a serving process's hot path.

A busy server allocates tens of thousands of short-lived objects a second; CPython's cyclic
collector then walks every long-lived object (modules, the FastAPI app, pydantic schemas) on
each older-generation pass. Freezing what start-up built moves it out of the collector's sight,
and a larger first-generation threshold runs the young passes less often. Reference counting
still frees almost everything at once; only cyclic garbage waits a little longer.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 5_000
"""Allocations between young collections (CPython's default is 700)."""


def settle_heap() -> None:
    """Collect start-up garbage, freeze the survivors, and make young collections less frequent."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
