"""Retry budget per target: retries stay a fraction of recent calls, so failures cannot storm.

Pure and clock-free (every method takes ``now`` in seconds). A retry is allowed while the
retries spent in the last ``window`` seconds are fewer than

    floor + ratio * calls + earn * successes

counted in that window; ``calls`` are first attempts (:meth:`RetryBudget.record_call`),
retries are what :meth:`RetryBudget.try_spend` granted, and ``successes`` are granted retries
that then succeeded (:meth:`RetryBudget.record_retry_success`). The ``floor`` lets a target
with little traffic retry; the ``ratio`` is the base allowance a target keeps whatever its
retries yield; ``earn`` makes the allowance follow the retries' *yield*: with ``earn = 2`` a
retry that succeeds pays for itself and for one that failed, so retries are self-funding while
at least half of them succeed (a flaky but healthy target), and fall back to the base
``floor + ratio * calls`` when they stop succeeding (overload, brownout, outage). This is the
idea of gRPC's retry throttling (failures drain a token bucket, successes refill it), measured
over retries only, so independent errors of a healthy target do not count against it.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["BudgetSnapshot", "RetryBudget"]


@dataclass(frozen=True)
class BudgetSnapshot:
    """A target's budget at one moment: calls and retries in the window, retries still allowed."""

    calls: int
    retries: int
    allowed: float
    remaining: float
    #: Granted retries that succeeded in the window (each earned ``earn`` retries back).
    successes: int = 0


class RetryBudget:
    """Token-free sliding-window retry budget, one per target (thread-safe).

    Args:
        ratio: retries allowed per call in the window (0.2: one retry per five calls).
        floor: retries always allowed in the window, whatever the traffic.
        window: seconds the calls and retries are counted over.
        earn: retries earned back by each granted retry that succeeded (0: a fixed budget,
            as before; 2: retries are self-funding while at least half of them succeed).
    """

    def __init__(
        self,
        ratio: float = 0.2,
        floor: int = 3,
        window: float = 10.0,
        *,
        earn: float = 2.0,
        max_ratio: float = 2.0,
    ) -> None:
        if ratio < 0 or floor < 0 or window <= 0 or earn < 0 or max_ratio < 0:
            raise ValueError("ratio, floor, earn and max_ratio must be >= 0 and window > 0")
        self.ratio = ratio
        self.floor = floor
        self.window = window
        self.earn = earn
        self.max_ratio = max_ratio
        self._calls: dict[str, deque[float]] = {}
        self._retries: dict[str, deque[float]] = {}
        self._successes: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, events: deque[float], now: float) -> None:
        horizon = now - self.window
        while events and events[0] <= horizon:
            events.popleft()

    def _counts(self, target: str, now: float) -> tuple[int, int, int]:
        calls = self._calls.setdefault(target, deque())
        retries = self._retries.setdefault(target, deque())
        successes = self._successes.setdefault(target, deque())
        self._prune(calls, now)
        self._prune(retries, now)
        self._prune(successes, now)
        return len(calls), len(retries), len(successes)

    def _allowed(self, calls: int, successes: int) -> float:
        earned = self.ratio * calls + self.earn * successes
        return self.floor + min(earned, max(self.max_ratio, self.ratio) * calls)

    def record_call(self, target: str, now: float) -> None:
        """Count one call (a first attempt) to ``target`` at ``now``."""
        with self._lock:
            self._counts(target, now)
            self._calls[target].append(now)

    def record_retry_success(self, target: str, now: float) -> None:
        """Count one granted retry of ``target`` that succeeded at ``now`` (earns ``earn``)."""
        with self._lock:
            self._counts(target, now)
            self._successes[target].append(now)

    def try_spend(self, target: str, now: float) -> bool:
        """Spend one retry of ``target``'s budget if the budget allows it; False if exhausted."""
        with self._lock:
            calls, retries, successes = self._counts(target, now)
            if retries < self._allowed(calls, successes):
                self._retries[target].append(now)
                return True
            return False

    def snapshot(self, target: str, now: float) -> BudgetSnapshot:
        """The target's calls, retries, allowance and remaining retries at ``now``."""
        with self._lock:
            calls, retries, successes = self._counts(target, now)
        allowed = self._allowed(calls, successes)
        return BudgetSnapshot(calls, retries, allowed, max(allowed - retries, 0.0), successes)
