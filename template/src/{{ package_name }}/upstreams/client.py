"""One pooled HTTP client per upstream, with deadline-bounded retries and a circuit breaker.

Only idempotent calls are retried (GET, HEAD, OPTIONS, PUT, DELETE, or `idempotent=True`),
with exponential backoff and jitter from tenacity; a backoff that would end after the tool's
deadline (`deadline.seconds_left()`) is not started. Failures come out as `UpstreamError`
whose `error_type` says what a caller may do: `transient` (retry later), `rate_limited`
(wait `retry_after_seconds`), `input` (change the request) or `fatal` (an operator must act).
Messages name the upstream and the status, never the URL, its query or a credential.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import httpx2
from loguru import logger
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_before_delay
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential, wait_random

from ..deadline import seconds_left
from ..project import ENV_PREFIX
from .breaker import CircuitBreaker, CircuitOpenError, CircuitState, StateListener
from .caller_credentials import caller_credential
from .settings import UpstreamSettings

ErrorType = Literal["transient", "rate_limited", "input", "fatal"]
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
INPUT_STATUSES = frozenset({400, 404, 409, 410, 422})
# httpx2 logs every request's URL at INFO, query (caller data) included; the records this module
# writes say what failed without it.
logging.getLogger("httpx2").setLevel(logging.WARNING)

MIN_ATTEMPT_SECONDS = 0.05
"""An attempt with less time than this left is not started: it could only time out."""
DEADLINE_MARGIN_SECONDS = 0.05
"""An attempt ends this long before the tool's deadline, so the caller gets the upstream's error
(what failed, that a retry may help) rather than the deadline's generic one."""


class UpstreamError(Exception):
    """An upstream call failed; `error_type` and `retry_after_seconds` say what to do next."""

    def __init__(
        self,
        upstream: str,
        error_type: ErrorType,
        message: str,
        *,
        retry_after_seconds: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.upstream = upstream
        self.error_type: ErrorType = error_type
        self.retry_after_seconds = retry_after_seconds
        self.status = status
        self.attempts = 1


class NoTimeLeftError(UpstreamError):
    """Too little of the tool's deadline was left to send the call: the upstream was not asked."""


class Upstream:
    """The pooled client of one upstream; open it with `Upstreams.open(name)`."""

    def __init__(
        self,
        name: str,
        settings: UpstreamSettings | None,
        *,
        on_change: StateListener | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings
        self._client: httpx2.AsyncClient | None = None
        if settings is not None:
            headers = {} if settings.token is None else {"Authorization": f"Bearer {settings.token.get_secret_value()}"}
            self._client = httpx2.AsyncClient(
                base_url=settings.base_url,
                headers=headers,
                timeout=httpx2.Timeout(settings.read_timeout_seconds, connect=settings.connect_timeout_seconds),
                limits=httpx2.Limits(
                    max_connections=settings.max_connections,
                    max_keepalive_connections=settings.max_keepalive_connections,
                ),
                follow_redirects=False,
                transport=transport,
            )
        self.breaker = CircuitBreaker(
            name,
            failures=settings.breaker_failures if settings else 1,
            reset_seconds=settings.breaker_reset_seconds if settings else 1.0,
            on_change=on_change,
            clock=clock,
        )

    async def aclose(self) -> None:
        """Close the pool's connections."""
        if self._client is not None:
            await self._client.aclose()

    async def get(self, path: str, **kwargs: Any) -> httpx2.Response:
        """GET `path` (retried: GET is idempotent)."""
        return await self.request("GET", path, **kwargs)

    async def request(
        self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx2.Response:
        """Send one call (retried only when idempotent) and return a 2xx/3xx response.

        Raises:
            UpstreamError: the call failed, was refused fast by the open circuit, or the
                upstream is not configured.
        """
        settings, client = self.settings, self._client
        if settings is None or client is None:
            variable = f"{ENV_PREFIX}UPSTREAMS__{self.name.upper()}__BASE_URL"
            raise UpstreamError(self.name, "fatal", f"upstream {self.name!r} is not configured: set {variable}")
        if settings.caller_header is not None:
            kwargs = self._with_callers_credential(settings.caller_header, kwargs)
        method = method.upper()
        retry = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        left = seconds_left()
        try:
            self.breaker.before_call()
        except CircuitOpenError as exc:
            seconds = max(1, math.ceil(exc.retry_after_seconds))
            raise UpstreamError(
                self.name,
                "transient",
                f"upstream {self.name!r} is failing and calls to it are paused for {seconds} s",
                retry_after_seconds=seconds,
            ) from None
        started = time.monotonic()
        stop: stop_base = stop_after_attempt(settings.retry_attempts if retry else 1)
        if left is not None:
            # No backoff that would leave too little time for the attempt after it.
            stop = stop | stop_before_delay(left - DEADLINE_MARGIN_SECONDS - MIN_ATTEMPT_SECONDS)
        # Doubling from retry_initial_seconds up to retry_max_seconds, plus up to retry_initial_seconds
        # of jitter so that callers that failed together do not come back together.
        backoff: wait_base = wait_exponential(
            multiplier=settings.retry_initial_seconds, max=settings.retry_max_seconds
        ) + wait_random(0, settings.retry_initial_seconds)
        attempts = 0
        last_error: UpstreamError | None = None
        try:
            retrying = AsyncRetrying(
                stop=stop,
                wait=_honour_retry_after(backoff),
                retry=retry_if_exception(_retryable(settings.retry_max_seconds)),
                reraise=True,
            )
            async for attempt in retrying:
                budget = None if left is None else left - (time.monotonic() - started)
                if (
                    last_error is not None
                    and budget is not None
                    and budget - DEADLINE_MARGIN_SECONDS < MIN_ATTEMPT_SECONDS
                ):
                    # A backoff that overran (a busy loop) left no time for this attempt: the
                    # model is told what the upstream did, not that the clock ran out.
                    raise last_error  # noqa: TRY301 (outside `with attempt`, so tenacity does not retry it)
                with attempt:
                    attempts += 1
                    try:
                        response = await self._once(client, method, path, budget, kwargs)
                    except UpstreamError as exc:
                        last_error = exc
                        raise
        except UpstreamError as exc:
            exc.attempts = attempts
            if isinstance(exc, NoTimeLeftError):
                self.breaker.release()  # nothing was sent: no verdict on the upstream
            elif exc.error_type == "transient":
                self.breaker.record_failure()
            else:
                self.breaker.record_success()  # it answered: a refusal is not an outage
            raise
        except BaseException:
            self.breaker.release()
            raise
        self.breaker.record_success()
        return response

    def _with_callers_credential(self, header: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments with the caller's own credential for this upstream added."""
        credential = caller_credential(header)
        if not credential:
            raise UpstreamError(
                self.name,
                "fatal",
                f"upstream {self.name!r} is called with each caller's own credential, and this caller "
                f"sent none: the client must send it in the {header} header",
            )
        return {**kwargs, "headers": {**(kwargs.get("headers") or {}), "Authorization": f"Bearer {credential}"}}

    async def _once(
        self, client: httpx2.AsyncClient, method: str, path: str, budget: float | None, kwargs: dict[str, Any]
    ) -> httpx2.Response:
        settings = client.timeout
        if budget is not None:
            budget -= DEADLINE_MARGIN_SECONDS
            if budget < MIN_ATTEMPT_SECONDS:
                raise NoTimeLeftError(self.name, "transient", f"upstream {self.name!r}: no time left to call it")
            settings = httpx2.Timeout(
                min(budget, settings.read or budget),
                connect=min(budget, settings.connect or budget),
                write=min(budget, settings.write or budget),
                pool=min(budget, settings.pool or budget),
            )
        try:
            response = await client.request(method, path, timeout=settings, **kwargs)
        except httpx2.TimeoutException:
            raise UpstreamError(self.name, "transient", f"upstream {self.name!r} did not answer in time") from None
        except httpx2.TransportError:
            raise UpstreamError(self.name, "transient", f"upstream {self.name!r} could not be reached") from None
        status = response.status_code
        if status < 400:
            return response
        retry_after = _retry_after(response)
        if status == 429:
            raise UpstreamError(
                self.name,
                "rate_limited",
                f"upstream {self.name!r} is rate limiting this server",
                retry_after_seconds=retry_after or 1.0,
                status=status,
            )
        if status >= 500:
            raise UpstreamError(
                self.name,
                "transient",
                f"upstream {self.name!r} answered {status}",
                retry_after_seconds=retry_after,
                status=status,
            )
        if status in INPUT_STATUSES:
            raise UpstreamError(
                self.name, "input", f"upstream {self.name!r} refused the request ({status})", status=status
            )
        if self.settings is not None and self.settings.caller_header is not None and status in {401, 403}:
            raise UpstreamError(
                self.name,
                "fatal",
                f"upstream {self.name!r} refused the caller's own credential ({status}): the client must "
                f"send a valid one in the {self.settings.caller_header} header",
                status=status,
            )
        raise UpstreamError(
            self.name,
            "fatal",
            f"upstream {self.name!r} refused this server ({status}); "
            "an operator must fix its configuration or credential",
            status=status,
        )


def _retryable(longest_wait: float) -> Callable[[BaseException], bool]:
    """Transient failures, and rate limits whose `Retry-After` is no longer than our longest backoff."""

    def retryable(exc: BaseException) -> bool:
        if not isinstance(exc, UpstreamError) or exc.status == 501:
            return False
        if exc.error_type == "rate_limited":
            return (exc.retry_after_seconds or 0.0) <= longest_wait
        return exc.error_type == "transient"

    return retryable


def _honour_retry_after(backoff: wait_base) -> Callable[[RetryCallState], float]:
    """The backoff, or the upstream's `Retry-After` when it asked for longer."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after_seconds if isinstance(exc, UpstreamError) else None
        return max(backoff(state), asked or 0.0)

    return wait


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date (or junk): fall back to our own backoff
    return seconds if 0 <= seconds <= 3600 else None


class Upstreams:
    """Every configured upstream's settings; services open the clients they use at start-up."""

    def __init__(
        self, settings: Mapping[str, UpstreamSettings], *, transport: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = {name.lower(): value for name, value in settings.items()}
        self._transport = transport
        self._listeners: list[StateListener] = [_log_change]
        self._open: list[Upstream] = []

    def on_change(self, listener: StateListener) -> None:
        """Call `listener(name, state)` on every breaker change (wire it at start-up only)."""
        self._listeners.append(listener)

    def open(self, name: str) -> _OpenUpstream:
        """`async with upstreams.open("name") as upstream:` the pooled client, closed on exit.

        An upstream without settings still opens: its calls fail with a `fatal` error that
        names the variable to set, so a server without it configured starts and says why.
        """
        return _OpenUpstream(self, name.lower())

    def _notify(self, name: str, state: CircuitState) -> None:
        for listener in self._listeners:
            listener(name, state)

    async def readiness(self) -> str | None:
        """None while every circuit is closed; else which are open (advisory: traffic still flows)."""
        troubled = sorted(
            f"{u.name} {u.breaker.state.value}" for u in self._open if u.breaker.state is not CircuitState.CLOSED
        )
        return f"degraded: {', '.join(troubled)}" if troubled else None


class _OpenUpstream:
    def __init__(self, pool: Upstreams, name: str) -> None:
        self._pool, self._name = pool, name
        self._upstream: Upstream | None = None

    async def __aenter__(self) -> Upstream:
        pool = self._pool
        upstream = Upstream(
            self._name, pool._settings.get(self._name), on_change=pool._notify, transport=pool._transport
        )
        pool._open.append(upstream)
        self._upstream = upstream
        return upstream

    async def __aexit__(self, *_exc: object) -> None:
        if self._upstream is not None:
            self._pool._open.remove(self._upstream)
            await self._upstream.aclose()


def _log_change(name: str, state: CircuitState) -> None:
    logger.warning("Upstream {} circuit is now {}", name, state.value)
