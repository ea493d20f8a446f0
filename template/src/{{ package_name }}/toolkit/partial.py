"""Partial results for tools that fan out: what succeeded, plus what is missing and why.

```python
fetched = await gather_partial(cities, services.forecasts.forecast)
return Forecasts(forecasts=fetched.values, partial=fetched.partial, missing=fetched.missing)
```

Each item runs concurrently (at most `concurrency` at once). An item that fails becomes a
`MissingItem` with the same `error_type` a single call would have had (`transient`,
`rate_limited`, `input`, `fatal`) and its own retry wait, so the model can retry just those.
When every item fails there is nothing partial to return: the call fails as a whole, with the
most retryable kind among the items. An unexpected exception is logged with a reference and
reported as `fatal` without its message (it may hold anything). The upstream client stops
each item before the tool's deadline, so the answer arrives before the call is cancelled.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
from loguru import logger
from pydantic import BaseModel, Field

from ..observability.request_context import current_request_id
from ..upstreams.client import ErrorType, UpstreamError
from .failures import ActionableToolError, tool_failure

T = TypeVar("T")

RETRYABLE_FIRST: tuple[ErrorType, ...] = ("transient", "rate_limited", "input", "fatal")
"""How a call whose items all failed is classified: the first kind any item had, in this order."""


class MissingItem(BaseModel):
    """One item a fan-out could not return, and what to do about it."""

    item: str = Field(description="The requested item that is missing from the result")
    error_type: ErrorType = Field(description="transient or rate_limited: retry it; input: change it; fatal: don't")
    message: str = Field(description="What went wrong with this item")
    retry_after_seconds: int | None = Field(default=None, description="Seconds to wait before retrying this item")


@dataclass(frozen=True)
class Gathered(Generic[T]):
    """The outcome of `gather_partial`: values in request order, and the items that failed."""

    values: list[T]
    missing: list[MissingItem]

    @property
    def partial(self) -> bool:
        """Whether some requested items are missing."""
        return bool(self.missing)


async def gather_partial(
    items: Sequence[str], fetch: Callable[[str], Awaitable[T]], *, concurrency: int = 8
) -> Gathered[T]:
    """Call `fetch(item)` for every item and keep what succeeded.

    Raises:
        ActionableToolError: every item failed (or there were none to fetch).
    """
    if not items:
        raise tool_failure("Nothing was requested: name at least one item.", "input")
    outcomes: list[T | MissingItem | None] = [None] * len(items)
    limiter = anyio.CapacityLimiter(concurrency)

    async def one(index: int, item: str) -> None:
        async with limiter:
            try:
                outcomes[index] = await fetch(item)
            except Exception as exc:  # noqa: BLE001 - one item's failure, whatever it is, is reported, not raised
                outcomes[index] = missing_item(item, exc)

    async with anyio.create_task_group() as group:
        for index, item in enumerate(items):
            group.start_soon(one, index, item)
    missing = [outcome for outcome in outcomes if isinstance(outcome, MissingItem)]
    values = [outcome for outcome in outcomes if outcome is not None and not isinstance(outcome, MissingItem)]
    if not values:
        raise all_failed(missing)
    return Gathered(values=values, missing=missing)


def missing_item(item: str, exc: Exception) -> MissingItem:
    """How `item` failed, in the terms a model acts on."""
    if isinstance(exc, UpstreamError):
        wait = exc.retry_after_seconds
        retry = None if wait is None else max(1, math.ceil(wait))
        return MissingItem(item=item, error_type=exc.error_type, message=_sentence(str(exc)), retry_after_seconds=retry)
    if isinstance(exc, ActionableToolError):
        return MissingItem(
            item=item, error_type=exc.error_type, message=str(exc), retry_after_seconds=exc.retry_after_seconds
        )
    reference = current_request_id()
    logger.opt(exception=exc).bind(reference=reference).error("Fan-out item failed (reference {})", reference)
    return MissingItem(item=item, error_type="fatal", message=f"An internal error occurred (reference {reference}).")


def all_failed(missing: list[MissingItem]) -> ActionableToolError:
    """The failure of a call none of whose items succeeded."""
    kinds = {entry.error_type for entry in missing}
    kind = next(kind for kind in RETRYABLE_FIRST if kind in kinds)
    waits = [entry.retry_after_seconds for entry in missing if entry.retry_after_seconds is not None]
    first = next(entry for entry in missing if entry.error_type == kind)
    return tool_failure(
        f"None of the {len(missing)} requested items could be fetched; {first.item!r}: {first.message}",
        kind,
        retry_after_seconds=max(waits) if waits else None,
    )


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
