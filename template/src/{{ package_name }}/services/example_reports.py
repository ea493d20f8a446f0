"""Example service: a slow report builder that reports progress and can be cancelled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

ProgressCallback = Callable[[int, int, str], Awaitable[None]]


@dataclass(frozen=True)
class Report:
    """A finished report."""

    topic: str
    sections: list[str]


class ReportBuilder:
    """Builds reports section by section; each section stands for slow upstream work."""

    def __init__(self, step_seconds: float) -> None:
        self._step_seconds = step_seconds
        self.cancelled = 0
        """Reports abandoned because the caller cancelled (visible for tests and metrics)."""

    async def build(self, topic: str, sections: int, on_progress: ProgressCallback) -> Report:
        """Build a report of `sections` sections, calling `on_progress` after each one.

        Cancellation (the client gave up) interrupts the current step; nothing is kept.
        """
        done: list[str] = []
        try:
            for index in range(1, sections + 1):
                await anyio.sleep(self._step_seconds)
                done.append(f"{topic}: section {index} of {sections}")
                await on_progress(index, sections, f"section {index} of {sections}")
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        return Report(topic=topic, sections=done)
