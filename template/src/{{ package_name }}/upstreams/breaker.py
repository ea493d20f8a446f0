"""A circuit breaker per upstream: closed, open after N consecutive failures, one probe when half open.

Small on purpose (see the README's "Calling an upstream"): the state lives in one process, the
clock is injected so tests need no sleeps, and every change of state is reported to a callback
(the composition root turns it into a metric).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    """Where a breaker is; the metric uses `level`."""

    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"

    @property
    def level(self) -> int:
        """0 closed, 1 half open, 2 open."""
        return {"closed": 0, "half_open": 1, "open": 2}[self.value]


class CircuitOpenError(Exception):
    """The circuit is open: the call was not sent."""

    def __init__(self, name: str, retry_after_seconds: float) -> None:
        super().__init__(f"circuit for upstream {name!r} is open")
        self.retry_after_seconds = retry_after_seconds


StateListener = Callable[[str, CircuitState], None]


class CircuitBreaker:
    """Counts consecutive failures of one upstream and refuses calls while it is open."""

    def __init__(
        self,
        name: str,
        *,
        failures: int,
        reset_seconds: float,
        on_change: StateListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failures
        self._reset_seconds = reset_seconds
        self._on_change = on_change
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.state = CircuitState.CLOSED

    def retry_after(self) -> float:
        """Seconds until a probe may run (0 unless open)."""
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._reset_seconds - self._clock())

    def before_call(self) -> None:
        """Admit a call or raise `CircuitOpenError`; after the reset time, admit exactly one probe."""
        if self.state is CircuitState.OPEN:
            if self.retry_after() > 0:
                raise CircuitOpenError(self.name, self.retry_after())
            self._set(CircuitState.HALF_OPEN)
        if self.state is CircuitState.HALF_OPEN:
            if self._probing:  # one probe at a time; the others fail fast until it has answered
                raise CircuitOpenError(self.name, 1.0)
            self._probing = True

    def record_success(self) -> None:
        """The upstream answered: close the circuit and forget past failures."""
        self._failures = 0
        self._probing = False
        if self.state is not CircuitState.CLOSED:
            self._set(CircuitState.CLOSED)

    def record_failure(self) -> None:
        """The upstream failed: a failed probe, or the Nth failure in a row, opens the circuit."""
        self._failures += 1
        probe_failed = self._probing
        self._probing = False
        if probe_failed or self._failures >= self._threshold:
            self._opened_at = self._clock()
            if self.state is not CircuitState.OPEN:
                self._set(CircuitState.OPEN)

    def release(self) -> None:
        """A call ended without a verdict (cancelled): let the next call probe instead."""
        self._probing = False

    def _set(self, state: CircuitState) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change(self.name, state)
