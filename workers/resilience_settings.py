"""Adaptive-retry settings of a worker, and the record of each retry decision
(:mod:`workers.resilience` is the interceptor that uses them; docs/resilience.md)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from nexus_temporal.protocol import ATTEMPT_TIMED_OUT

ADAPTIVE = "adaptive"
#: Error types counted as throttling (besides any error that carries a Retry-After).
THROTTLE_TYPES = frozenset(
    {"Throttled", "TooManyRequests", "TooManyRequestsException", "ThrottlingException", "SlowDown"}
)
#: Error types counted as timeouts (besides a start-to-close or heartbeat timeout).
TIMEOUT_TYPES = frozenset(
    {"Timeout", "TimeoutError", "ReadTimeout", "TimeoutException", ATTEMPT_TIMED_OUT}
)
#: The shortest delay handed to Temporal (0 would mean "use the policy's schedule").
MIN_DELAY = 0.01
#: The worker-side attempt deadline ends this much before the server's start-to-close:
#: ``min(DEADLINE_MARGIN_RATIO x start_to_close, DEADLINE_MARGIN_MAX)`` seconds.
DEADLINE_MARGIN_RATIO = 0.1
DEADLINE_MARGIN_MAX = 1.0


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class ResilienceSettings:
    """The worker's adaptive-retry settings (all targets share them).

    ``budget_ratio``/``budget_floor``/``budget_window``/``budget_earn``: the retry budget per
    target (retries allowed in the window: ``floor + ratio * calls + earn * successes``, at
    most ``floor + 2 * calls``); ``window``: latencies per target for the median/MAD baseline;
    ``refit_interval``: seconds between background IsolationForest fits
    (0: never); ``seed``: seeds the jitter (None: from the OS).
    """

    budget_ratio: float = 0.2
    budget_floor: int = 3
    budget_window: float = 10.0
    budget_earn: float = 2.0
    window: int = 50
    refit_interval: float = 5.0
    seed: int | None = None
    #: A JSONL file that gets one record per measured attempt (score, delay, budget, breaker,
    #: outcome) for diagnostics and the real benchmark; None: no record (never in history).
    trace_file: str | None = None
    #: ``"adaptive"``: retry delays from the anomaly score (``choose_delay``); ``"static"``:
    #: Temporal's schedule (``static_delay``) with the retry budget and breaker kept (ablation).
    delays: str = "adaptive"

    @classmethod
    def from_env(cls) -> ResilienceSettings:
        """Settings from ``NEXUS_RETRY_BUDGET_RATIO``, ``NEXUS_RETRY_BUDGET_FLOOR``,
        ``NEXUS_RETRY_BUDGET_WINDOW``, ``NEXUS_RETRY_BUDGET_EARN`` and
        ``NEXUS_RETRY_REFIT_INTERVAL``, ``NEXUS_RETRY_TRACE`` and ``NEXUS_RETRY_DELAYS``
        (else the defaults)."""
        d = cls()
        delays = os.environ.get("NEXUS_RETRY_DELAYS", d.delays)
        return cls(
            trace_file=os.environ.get("NEXUS_RETRY_TRACE") or None,
            delays=delays if delays in ("adaptive", "static") else d.delays,
            budget_ratio=_env_float("NEXUS_RETRY_BUDGET_RATIO", d.budget_ratio),
            budget_floor=int(_env_float("NEXUS_RETRY_BUDGET_FLOOR", d.budget_floor)),
            budget_window=_env_float("NEXUS_RETRY_BUDGET_WINDOW", d.budget_window),
            budget_earn=_env_float("NEXUS_RETRY_BUDGET_EARN", d.budget_earn),
            refit_interval=_env_float("NEXUS_RETRY_REFIT_INTERVAL", d.refit_interval),
        )


@dataclass(frozen=True)
class DecisionRecord:
    """One retry decision, kept (bounded) for diagnostics and tests."""

    target: str
    function: str
    workflow_id: str
    attempt: int
    error_type: str
    policy: str
    delay: float | None
    reason: str
    score: float
    degraded: bool
    at: float
    #: The jitter envelope the delay was drawn under, and Temporal's static delay here.
    cap: float | None = None
    static: float | None = None


class TraceWriter:
    """Appends one JSON line per attempt to ``path`` (thread-safe, flushed per line)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: TextIO | None = None

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str)
        with self._lock:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
