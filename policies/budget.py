"""Retry budget per target: retries stay a fraction of recent calls, so failures cannot storm.

Pure and clock-free (every method takes ``now`` in seconds). A retry is allowed while the
retries spent in the last ``window`` seconds are fewer than ``floor + ratio * calls`` made in
that window; ``calls`` are first attempts (:meth:`RetryBudget.record_call`), retries are what
:meth:`RetryBudget.try_spend` granted. The ``floor`` lets a target with little traffic retry.
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


class RetryBudget:
    """Token-free sliding-window retry budget, one per target (thread-safe).

    Args:
        ratio: retries allowed per call in the window (0.2: one retry per five calls).
        floor: retries always allowed in the window, whatever the traffic.
        window: seconds the calls and retries are counted over.
    """

    def __init__(self, ratio: float = 0.2, floor: int = 3, window: float = 10.0) -> None:
        if ratio < 0 or floor < 0 or window <= 0:
            raise ValueError("ratio and floor must be >= 0 and window > 0")
        self.ratio = ratio
        self.floor = floor
        self.window = window
        self._calls: dict[str, deque[float]] = {}
        self._retries: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, events: deque[float], now: float) -> None:
        horizon = now - self.window
        while events and events[0] <= horizon:
            events.popleft()

    def _counts(self, target: str, now: float) -> tuple[int, int]:
        calls = self._calls.setdefault(target, deque())
        retries = self._retries.setdefault(target, deque())
        self._prune(calls, now)
        self._prune(retries, now)
        return len(calls), len(retries)

    def record_call(self, target: str, now: float) -> None:
        """Count one call (a first attempt) to ``target`` at ``now``."""
        with self._lock:
            self._counts(target, now)
            self._calls[target].append(now)

    def try_spend(self, target: str, now: float) -> bool:
        """Spend one retry of ``target``'s budget if the budget allows it; False if exhausted."""
        with self._lock:
            calls, retries = self._counts(target, now)
            if retries < self.floor + self.ratio * calls:
                self._retries[target].append(now)
                return True
            return False

    def snapshot(self, target: str, now: float) -> BudgetSnapshot:
        """The target's calls, retries, allowance and remaining retries at ``now``."""
        with self._lock:
            calls, retries = self._counts(target, now)
        allowed = self.floor + self.ratio * calls
        return BudgetSnapshot(calls, retries, allowed, max(allowed - retries, 0.0))
