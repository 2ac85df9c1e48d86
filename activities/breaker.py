"""Circuit breakers for function targets: one per target, per worker process.

This follows the Resilience4j model: a count-based sliding window of the last ``window_size``
calls; once at least ``minimum_calls`` are recorded, the breaker opens when the failure rate or
the slow-call rate reaches its threshold. While open, calls are refused at once (the target is
not called); after ``open_duration`` the breaker is half-open and lets ``half_open_calls``
probes through; their outcome closes it again or re-opens it. No maintained Python breaker
(pybreaker, aiobreaker, circuitbreaker) offers failure- and slow-call *rates* over a window, only
consecutive-failure counters, hence this module.

It is activity code: it reads the monotonic clock and keeps process-local state. Workflows never
see a breaker, only the ``CircuitOpen`` error type the activity records in history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from opentelemetry import metrics

from activities.redact import strip_userinfo
from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.protocol import CIRCUIT_OPEN

log = logging.getLogger("nexus.breaker")


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerSettings:
    """How a breaker decides; the YAML ``circuit_breaker:`` mapping, with the same names.

    Rates are percentages (0-100]; durations are seconds.
    """

    enabled: bool = True
    window_size: int = 20
    minimum_calls: int = 10
    failure_rate: float = 50.0
    slow_call_rate: float = 100.0
    slow_call_duration: float = 30.0
    open_duration: float = 30.0
    half_open_calls: int = 3

    @classmethod
    def from_mapping(
        cls, data: dict[str, Any] | None, *, enabled: bool = True, adaptive: bool = False
    ) -> BreakerSettings:
        """Settings from a (JSON) mapping; unknown keys are ignored, missing ones defaulted.

        ``adaptive``: the defaults of a breaker guarding calls of the adaptive retry policy
        (:data:`ADAPTIVE_DEFAULTS`); fields the mapping sets still win.
        """
        known = {
            k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__ and v is not None
        }
        known.setdefault("enabled", enabled)
        if adaptive:
            for k, v in ADAPTIVE_DEFAULTS.items():
                known.setdefault(k, v)
        return cls(**known)


#: Breaker defaults under the adaptive retry policy. Independent errors of a target that still
#: answers at its usual speed are the retries' business (they succeed on a later attempt), so
#: the failure rate only opens the breaker when the target has all but stopped serving (an
#: outage: >= 95% of the window failed); an overloaded or browned-out target opens it through
#: its *stressed*-call rate: calls that timed out, were throttled, or ran while the target's
#: latency/timeout/throttle signals said it was under stress count as slow (the caller passes
#: ``slow=`` to :meth:`CircuitBreaker.record`), and half the window being slow opens it.
ADAPTIVE_DEFAULTS: dict[str, Any] = {"failure_rate": 95.0, "slow_call_rate": 50.0}


class Outcome(str, Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    #: Not counted either way (e.g. a non-retryable client error: the target is healthy).
    IGNORED = "ignored"


@dataclass(frozen=True)
class Permit:
    """Returned by :meth:`CircuitBreaker.acquire`; hand it back to :meth:`record`."""

    started: float
    probe: bool


class CircuitOpenError(NexusTemporalError):
    """A call refused because its breaker is open; ``retry_in`` is the time left (seconds)
    until the breaker lets probes through."""

    def __init__(self, target: str, retry_in: float) -> None:
        super().__init__(
            f"circuit breaker for '{strip_userinfo(target)}' is open; retry in {retry_in:.1f}s"
        )
        self.target = target
        self.retry_in = retry_in


TransitionListener = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    """One target's breaker. Thread-safe (providers may call from worker threads)."""

    def __init__(
        self,
        target: str,
        settings: BreakerSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_transition: TransitionListener | None = None,
    ) -> None:
        self.target = target
        #: The target as logs and metrics show it: providers key targets without URL
        #: userinfo already; masked again here so no caller can leak one into a label.
        self.label = strip_userinfo(target)
        self.settings = settings
        self._clock = clock
        self._on_transition = on_transition
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        # (failed, slow) per call, newest last.
        self._window: deque[tuple[bool, bool]] = deque(maxlen=max(settings.window_size, 1))
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_results: list[tuple[bool, bool]] = []

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def retry_in(self) -> float:
        """Seconds until an open breaker goes half-open (0 when not open)."""
        with self._lock:
            return self._retry_in()

    def _retry_in(self) -> float:
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(self._opened_at + self.settings.open_duration - self._clock(), 0.0)

    def acquire(self) -> Permit:
        """Permit one call, or raise :class:`CircuitOpenError` without calling the target."""
        with self._lock:
            self._maybe_half_open()
            if self._state is BreakerState.OPEN:
                raise CircuitOpenError(self.target, self._retry_in())
            if self._state is BreakerState.HALF_OPEN:
                done = len(self._probe_results)
                if self._probes_in_flight + done >= self.settings.half_open_calls:
                    # All probes are out: refuse until they report; a short, fixed wait.
                    raise CircuitOpenError(self.target, min(1.0, self.settings.open_duration))
                self._probes_in_flight += 1
                return Permit(self._clock(), probe=True)
            return Permit(self._clock(), probe=False)

    def record(self, permit: Permit, outcome: Outcome, *, slow: bool | None = None) -> None:
        """Report how a permitted call ended.

        ``slow``: the caller's judgement that the call was slow (stressed); None: slow when it
        took ``slow_call_duration`` or longer. A call that took that long is slow either way.
        """
        elapsed = self._clock() - permit.started
        slow = bool(slow) or elapsed >= self.settings.slow_call_duration
        with self._lock:
            if permit.probe:
                self._probes_in_flight = max(self._probes_in_flight - 1, 0)
                if self._state is not BreakerState.HALF_OPEN:
                    return  # a stale probe (the breaker moved on meanwhile)
                if outcome is Outcome.IGNORED:
                    return
                self._probe_results.append((outcome is Outcome.FAILURE, slow))
                if len(self._probe_results) >= self.settings.half_open_calls:
                    failure_rate, slow_rate = _rates(self._probe_results)
                    if self._tripped(failure_rate, slow_rate):
                        self._open()
                    else:
                        self._transition(BreakerState.CLOSED)
                        self._window.clear()
                return
            if self._state is not BreakerState.CLOSED or outcome is Outcome.IGNORED:
                return
            self._window.append((outcome is Outcome.FAILURE, slow))
            if len(self._window) >= self.settings.minimum_calls:
                failure_rate, slow_rate = _rates(self._window)
                if self._tripped(failure_rate, slow_rate):
                    self._open()

    def _tripped(self, failure_rate: float, slow_rate: float) -> bool:
        return (
            failure_rate >= self.settings.failure_rate or slow_rate >= self.settings.slow_call_rate
        )

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._window.clear()
        self._probe_results = []
        self._transition(BreakerState.OPEN)

    def _maybe_half_open(self) -> None:
        if self._state is BreakerState.OPEN and self._retry_in() <= 0:
            self._probe_results = []
            self._probes_in_flight = 0
            self._transition(BreakerState.HALF_OPEN)

    def _transition(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if old is new:
            return
        log.warning("circuit breaker for '%s': %s -> %s", self.label, old.value, new.value)
        if self._on_transition is not None:
            self._on_transition(self.target, old, new)


def _rates(calls: Any) -> tuple[float, float]:
    total = len(calls)
    if not total:
        return 0.0, 0.0
    failed = sum(1 for f, _ in calls if f)
    slow = sum(1 for _, s in calls if s)
    return 100.0 * failed / total, 100.0 * slow / total


@dataclass(frozen=True)
class RealError:
    """The last error a target's call itself ended with (not a breaker refusal): what the
    refused last attempt of a call reports instead of ``CircuitOpen``."""

    type: str
    message: str
    details: tuple[Any, ...] = ()


_STATE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class BreakerRegistry:
    """The breakers of one worker process, by target, with their metrics.

    Metrics (OpenTelemetry, meter ``nexus.breaker``): ``nexus.breaker.transitions`` (counter,
    attributes ``target``, ``from``, ``to``), ``nexus.breaker.rejected`` (counter of calls refused
    while open, attribute ``target``) and ``nexus.breaker.state`` (observable gauge: 0 closed,
    1 half-open, 2 open).
    """

    def __init__(
        self,
        meter: metrics.Meter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._breakers: dict[str, CircuitBreaker] = {}
        self._last_errors: dict[str, RealError] = {}
        self._lock = threading.Lock()
        self._clock = clock
        meter = meter or metrics.get_meter("nexus.breaker")
        self._transitions = meter.create_counter(
            "nexus.breaker.transitions", description="circuit breaker state changes"
        )
        self._rejected = meter.create_counter(
            "nexus.breaker.rejected", description="calls refused by an open circuit breaker"
        )
        meter.create_observable_gauge(
            "nexus.breaker.state",
            callbacks=[self._observe],
            description="circuit breaker state: 0 closed, 1 half-open, 2 open",
        )

    def get(self, target: str, settings: BreakerSettings) -> CircuitBreaker:
        """The breaker of ``target``; a new one (closed) if its settings changed."""
        with self._lock:
            breaker = self._breakers.get(target)
            if breaker is None or breaker.settings != settings:
                breaker = CircuitBreaker(
                    target, settings, clock=self._clock, on_transition=self._transitioned
                )
                self._breakers[target] = breaker
            return breaker

    def find(self, target: str) -> CircuitBreaker | None:
        """The breaker of ``target`` if one exists (for tests and diagnostics)."""
        with self._lock:
            return self._breakers.get(target)

    def failed(self, target: str, error: RealError) -> None:
        """Remember the error a call of ``target`` itself ended with."""
        with self._lock:
            self._last_errors[target] = error

    def last_error(self, target: str) -> RealError | None:
        """The error ``target``'s last failed call ended with (None: none recorded)."""
        with self._lock:
            return self._last_errors.get(target)

    def rejected(self, target: str) -> None:
        self._rejected.add(1, {"target": strip_userinfo(target)})

    def _transitioned(self, target: str, old: BreakerState, new: BreakerState) -> None:
        labels = {"target": strip_userinfo(target), "from": old.value, "to": new.value}
        self._transitions.add(1, labels)

    def _observe(self, _options: metrics.CallbackOptions) -> list[metrics.Observation]:
        with self._lock:
            breakers = list(self._breakers.values())
        return [metrics.Observation(_STATE_VALUE[b.state], {"target": b.label}) for b in breakers]


#: The process-wide registry every ``nexus.invoke`` activity uses.
BREAKERS = BreakerRegistry()

__all__ = [
    "ADAPTIVE_DEFAULTS",
    "BREAKERS",
    "CIRCUIT_OPEN",
    "BreakerRegistry",
    "BreakerSettings",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "Outcome",
    "Permit",
    "RealError",
]
