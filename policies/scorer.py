"""Anomaly scoring of a call target from its recent attempts.

Pure and clock-free: no Temporal imports and no clock reads. Every time is passed in explicitly
(``started``, ``now``, in seconds), so a worker drives it with ``time.monotonic()`` and a
simulator with virtual time. :meth:`AnomalyScorer.record` and :meth:`AnomalyScorer.score` are
cheap (a few microseconds: a bounded window per target, EWMAs, one sort of at most ``window``
latencies); :meth:`AnomalyScorer.refit` fits the scikit-learn IsolationForest and is meant for a
background thread (the worker interceptor) or a simulator's own schedule, never the call path.

The score of a target combines, as a noisy-OR of weighted signals in ``[0, 1]``:

- a robust latency score: the median of the last ``recent`` latencies as a robust z against the
  window's median and MAD (median absolute deviation, scaled by 1.4826); latencies of calls
  that were served or timed out only (a fast refusal is not a service time);
- fast and slow error-rate EWMAs (per attempt, and decaying while the target is idle);
- throttling (HTTP 429, provider throttling, a Retry-After) and timeout rates (EWMAs);
- the IsolationForest's anomaly of the latest feature vector (``forest``; None until fitted);
- a ``caution`` raised by another target's failures (the upstream-correlation hook).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["Attempt", "Outcome", "Score", "AnomalyScorer", "Features"]

#: Feature vector fed to the IsolationForest: latency (s), error rate, concurrency, throttle rate.
Features = tuple[float, float, float, float]

_MAD_SCALE = 1.4826


class Outcome(str, Enum):
    """How one attempt ended."""

    OK = "ok"
    ERROR = "error"
    THROTTLED = "throttled"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Attempt:
    """One attempt at calling ``target``: when it started, how long it took, how it ended."""

    target: str
    started: float
    latency: float
    outcome: Outcome
    concurrency: int = 1
    retry_after: float | None = None


@dataclass(frozen=True)
class Score:
    """How anomalous a target looks now; ``value`` in ``[0, 1]``, ``degraded`` past a threshold."""

    value: float
    latency_z: float
    error_fast: float
    error_slow: float
    throttle_rate: float
    timeout_rate: float
    forest: float | None
    degraded: bool
    caution: float = 0.0
    samples: int = 0
    #: The load part of ``value``: the noisy-OR of the latency, timeout and throttle signals
    #: only (no error rates), 0..1. High when the target is slow or shedding load, not when it
    #: fails fast at its usual speed.
    stress: float = 0.0


#: The score of a target never seen: nothing known, nothing wrong.
UNKNOWN = Score(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, False)


@dataclass
class _Target:
    latencies: deque[float]
    history: deque[Features]
    error_fast: float = 0.0
    error_slow: float = 0.0
    throttle: float = 0.0
    timeout: float = 0.0
    last: float = 0.0
    concurrency: int = 1
    samples: int = 0
    last_latency: float = 0.0
    caution: float = 0.0
    caution_until: float = -math.inf
    forest: float | None = None
    forest_at: float = -math.inf
    model: Any = field(default=None, repr=False)


def _decay(value: float, idle: float, half_life: float) -> float:
    if idle <= 0 or half_life <= 0:
        return value
    return value * 0.5 ** (idle / half_life)


def _median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    mid = n // 2
    if n % 2:
        return sorted_values[mid]
    return (sorted_values[mid - 1] + sorted_values[mid]) / 2.0


class AnomalyScorer:
    """Per-target anomaly scores from recorded attempts (thread-safe; one lock, short sections).

    Args:
        window: latencies kept per target for the median/MAD baseline.
        recent: latencies whose median is compared with the baseline.
        min_samples: latencies needed before the latency score counts.
        fast_alpha, slow_alpha: per-attempt EWMA weights of the fast and slow error rates.
        fast_half_life, slow_half_life: seconds over which idle error rates halve.
        threshold: ``value`` at or above which a target is ``degraded``.
        z_low, z_high: robust z mapped linearly onto a latency signal of 0 .. 1.
        min_scale: the smallest latency spread (seconds) a z is measured in, and at least
            ``rel_scale`` of the median: millisecond jitter of a fast target is not an anomaly.
        forest_history: feature vectors kept per target for the IsolationForest.
        forest_min_samples: vectors needed before the forest is fitted.
        forest_ttl: seconds a forest result stays valid after its fit.
        seed: random_state of the IsolationForest (deterministic fits).
    """

    #: Weights of the noisy-OR: how much each signal alone can raise ``value``.
    WEIGHTS = {
        "latency": 0.7,
        "error_fast": 0.8,
        "error_slow": 0.5,
        "throttle": 0.9,
        "timeout": 0.8,
        "forest": 0.4,
    }

    def __init__(
        self,
        window: int = 50,
        *,
        recent: int = 5,
        min_samples: int = 8,
        fast_alpha: float = 0.3,
        slow_alpha: float = 0.05,
        fast_half_life: float = 5.0,
        slow_half_life: float = 60.0,
        threshold: float = 0.5,
        z_low: float = 2.0,
        z_high: float = 8.0,
        min_scale: float = 0.01,
        rel_scale: float = 0.1,
        forest_history: int = 256,
        forest_min_samples: int = 32,
        forest_ttl: float = 30.0,
        seed: int = 0,
    ) -> None:
        if window < 2:
            raise ValueError("window must be at least 2")
        self.window = window
        self.recent = max(1, min(recent, window))
        self.min_samples = max(2, min(min_samples, window))
        self.fast_alpha = fast_alpha
        self.slow_alpha = slow_alpha
        self.fast_half_life = fast_half_life
        self.slow_half_life = slow_half_life
        self.threshold = threshold
        self.z_low = z_low
        self.z_high = max(z_high, z_low + 1e-9)
        self.min_scale = min_scale
        self.rel_scale = rel_scale
        self.forest_history = forest_history
        self.forest_min_samples = forest_min_samples
        self.forest_ttl = forest_ttl
        self.seed = seed
        self._targets: dict[str, _Target] = {}
        self._lock = threading.Lock()

    def _target(self, name: str) -> _Target:
        state = self._targets.get(name)
        if state is None:
            state = _Target(deque(maxlen=self.window), deque(maxlen=self.forest_history))
            self._targets[name] = state
        return state

    def targets(self) -> list[str]:
        """The targets seen so far."""
        with self._lock:
            return list(self._targets)

    def record(self, attempt: Attempt) -> None:
        """Add one attempt's latency and outcome to its target's statistics (O(1))."""
        now = attempt.started + max(attempt.latency, 0.0)
        outcome = Outcome(attempt.outcome)
        failed = 0.0 if outcome is Outcome.OK else 1.0
        throttled = 1.0 if outcome is Outcome.THROTTLED or attempt.retry_after is not None else 0.0
        timed_out = 1.0 if outcome is Outcome.TIMEOUT else 0.0
        with self._lock:
            t = self._target(attempt.target)
            if t.samples:
                idle = now - t.last
                t.error_fast = _decay(t.error_fast, idle, self.fast_half_life)
                t.error_slow = _decay(t.error_slow, idle, self.slow_half_life)
                t.throttle = _decay(t.throttle, idle, self.fast_half_life)
                t.timeout = _decay(t.timeout, idle, self.fast_half_life)
            a, b = self.fast_alpha, self.slow_alpha
            t.error_fast += a * (failed - t.error_fast)
            t.error_slow += b * (failed - t.error_slow)
            t.throttle += a * (throttled - t.throttle)
            t.timeout += a * (timed_out - t.timeout)
            if outcome is Outcome.OK or outcome is Outcome.TIMEOUT:
                # Service times only: a refusal's latency (an error or a throttle answered in
                # milliseconds) says nothing about how fast the target serves, and a window
                # full of them would make its normal latency look anomalous on recovery.
                t.latencies.append(max(attempt.latency, 0.0))
            t.last_latency = max(attempt.latency, 0.0)
            t.concurrency = max(1, attempt.concurrency)
            t.last = max(t.last, now)
            t.samples += 1
            t.history.append(self._features(t))

    @staticmethod
    def _features(t: _Target) -> Features:
        return (t.last_latency, t.error_fast, float(t.concurrency), t.throttle)

    def features(self, target: str) -> Features:
        """The target's current feature vector: (latency s, error rate, concurrency, throttles)."""
        with self._lock:
            t = self._targets.get(target)
            return self._features(t) if t else (0.0, 0.0, 1.0, 0.0)

    def caution(self, target: str, level: float, until: float) -> None:
        """Raise ``target``'s score by ``level`` (0..1) until time ``until``.

        The hook for upstream-failure correlation: a policy that sees an upstream target fail
        may make its downstream targets retry more carefully. The latest call wins; a level
        of 0 clears the caution.
        """
        level = min(max(level, 0.0), 1.0)
        with self._lock:
            t = self._target(target)
            t.caution, t.caution_until = level, until

    def latency_z(self, target: str) -> float:
        """Robust z of the recent median latency against the window's median and MAD."""
        with self._lock:
            t = self._targets.get(target)
            return self._latency_z(t) if t else 0.0

    def _latency_z(self, t: _Target) -> float:
        n = len(t.latencies)
        if n < self.min_samples:
            return 0.0
        values = list(t.latencies)
        ordered = sorted(values)
        median = _median(ordered)
        mad = _median(sorted(abs(v - median) for v in ordered))
        scale = max(_MAD_SCALE * mad, self.rel_scale * median, self.min_scale, 1e-9)
        recent = sorted(values[-self.recent :])
        return (_median(recent) - median) / scale

    def score(self, target: str, now: float) -> Score:
        """The target's anomaly score at time ``now`` (idle error rates decay toward 0)."""
        with self._lock:
            t = self._targets.get(target)
            if t is None:
                return UNKNOWN
            idle = now - t.last
            error_fast = _decay(t.error_fast, idle, self.fast_half_life)
            error_slow = _decay(t.error_slow, idle, self.slow_half_life)
            throttle = _decay(t.throttle, idle, self.fast_half_life)
            timeout = _decay(t.timeout, idle, self.fast_half_life)
            z = self._latency_z(t)
            forest = t.forest if now - t.forest_at <= self.forest_ttl else None
            caution = t.caution if now < t.caution_until else 0.0
            samples = t.samples
        w = self.WEIGHTS
        latency_signal = min(max((z - self.z_low) / (self.z_high - self.z_low), 0.0), 1.0)
        keep = (
            (1 - w["latency"] * latency_signal)
            * (1 - w["error_fast"] * error_fast)
            * (1 - w["error_slow"] * error_slow)
            * (1 - w["throttle"] * throttle)
            * (1 - w["timeout"] * timeout)
            * (1 - w["forest"] * (forest or 0.0))
            * (1 - caution)
        )
        value = min(max(1.0 - keep, 0.0), 1.0)
        load_keep = (
            (1 - w["latency"] * latency_signal)
            * (1 - w["throttle"] * throttle)
            * (1 - w["timeout"] * timeout)
        )
        return Score(
            value=value,
            latency_z=z,
            error_fast=error_fast,
            error_slow=error_slow,
            throttle_rate=throttle,
            timeout_rate=timeout,
            forest=forest,
            degraded=value >= self.threshold,
            caution=caution,
            samples=samples,
            stress=min(max(1.0 - load_keep, 0.0), 1.0),
        )

    def refit(self, now: float) -> int:
        """Fit one IsolationForest per target over its recent feature vectors.

        Scores each target's latest vector and keeps the result (``Score.forest``) for
        ``forest_ttl`` seconds. Slow (tens of milliseconds per target): call it off the call
        path. Returns the number of targets fitted; 0 when scikit-learn is not installed.
        """
        try:
            import numpy as np
            from sklearn.ensemble import IsolationForest
        except ImportError:  # pragma: no cover - scikit-learn is a runtime dependency
            return 0
        with self._lock:
            batches = {
                name: list(t.history)
                for name, t in self._targets.items()
                if len(t.history) >= self.forest_min_samples
            }
        fitted: dict[str, tuple[float, Any]] = {}
        for name, rows in batches.items():
            data = np.asarray(rows, dtype=float)
            model = IsolationForest(
                n_estimators=50, max_samples=min(128, len(rows)), random_state=self.seed
            )
            model.fit(data)
            # score_samples is minus the paper's anomaly score s in (0, 1]; s ~ 0.5 is normal.
            s = float(-model.score_samples(data[-1:])[0])
            fitted[name] = (min(max((s - 0.5) * 2.0, 0.0), 1.0), model)
        with self._lock:
            for name, (value, model) in fitted.items():
                t = self._targets[name]
                t.forest, t.forest_at, t.model = value, now, model
        return len(fitted)
