"""Metrics of one simulated (or real) run, and their median and spread over seeds.

Definitions (docs/resilience.md):

- ``completion``: workflows that succeeded / workflows started.
- ``mttr_s``: from the fault onset until the rolling success rate (workflows *started* in the
  last ``window`` seconds that eventually succeed) is back to ``fraction`` (95%) of the baseline
  (the success rate of workflows started before the onset) and stays there until the end of
  the arrivals; ``inf`` when it never gets back (JSON ``null``).
- ``amplification``: function invocations (attempts that reached a function, fallbacks
  included, calls refused by a breaker not) per logical call of the faulted step.
- ``goodput``: successful workflows per second of arrivals.
- ``p50_s`` / ``p99_s``: latency of the successful workflows.
- ``safe_rollback``: failed workflows whose ledger is balanced once compensation and every
  late side effect are done / failed workflows (None when none failed).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RunMetrics",
    "WorkflowRecord",
    "aggregate",
    "mttr",
    "percentile",
    "run_metrics",
]


@dataclass
class WorkflowRecord:
    """One workflow: when it started and ended, whether it succeeded, whether its side
    effects balance (failed: nothing left; succeeded: each step's effect exactly once)."""

    start: float
    end: float
    ok: bool
    balanced: bool


@dataclass(frozen=True)
class RunMetrics:
    workflows: int
    completion: float
    mttr_s: float
    amplification: float
    goodput: float
    p50_s: float | None
    p99_s: float | None
    safe_rollback: float | None
    duplicate_effects: int

    def to_json(self) -> dict[str, Any]:
        return {k: _clean(v) for k, v in self.__dict__.items()}


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isinf(v) or math.isnan(v) else round(v, 4)
    return v


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` (0..100) percentile by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def mttr(
    outcomes: Iterable[tuple[float, bool]],
    onset: float,
    horizon: float,
    *,
    window: float = 10.0,
    step: float = 1.0,
    fraction: float = 0.95,
) -> float:
    """Seconds from ``onset`` until the rolling success rate is back for good (``inf``: never).

    ``outcomes`` are ``(start time, succeeded)`` per workflow. The rate at ``t`` is over the
    workflows started in ``[t - window, t)``; windows without workflows do not count. Recovery is
    the first ``t >= onset`` from which every rate up to ``horizon`` is at least ``fraction``
    times the baseline (the rate before ``onset``; 1.0 when nothing started before it).
    """
    data = sorted(outcomes)
    before = [ok for t, ok in data if t < onset]
    baseline = sum(before) / len(before) if before else 1.0
    threshold = fraction * baseline
    starts = [t for t, _ in data]
    oks = [0]
    for _, ok in data:
        oks.append(oks[-1] + int(ok))
    import bisect

    times: list[float] = []
    t = onset
    while t <= horizon + 1e-9:
        times.append(t)
        t += step
    recovered_at: float | None = None
    for t in times:
        lo = bisect.bisect_left(starts, t - window)
        hi = bisect.bisect_left(starts, t)
        n = hi - lo
        good = n == 0 or (oks[hi] - oks[lo]) / n >= threshold
        if good and recovered_at is None:
            recovered_at = t
        elif not good:
            recovered_at = None
    if recovered_at is None:
        return math.inf
    return recovered_at - onset


def run_metrics(
    workflows: Sequence[WorkflowRecord],
    *,
    invocations: int,
    logical_calls: int,
    onset: float,
    horizon: float,
) -> RunMetrics:
    """The metrics of one run (see the module doc)."""
    n = len(workflows)
    ok = [w for w in workflows if w.ok]
    failed = [w for w in workflows if not w.ok]
    latencies = [w.end - w.start for w in ok]
    return RunMetrics(
        workflows=n,
        completion=len(ok) / n if n else 1.0,
        mttr_s=mttr(((w.start, w.ok) for w in workflows), onset, horizon),
        amplification=invocations / logical_calls if logical_calls else 0.0,
        goodput=len(ok) / horizon if horizon > 0 else 0.0,
        p50_s=percentile(latencies, 50),
        p99_s=percentile(latencies, 99),
        safe_rollback=(sum(w.balanced for w in failed) / len(failed)) if failed else None,
        duplicate_effects=sum(1 for w in ok if not w.balanced),
    )


def aggregate(runs: Sequence[RunMetrics]) -> dict[str, Any]:
    """Median and spread (min, max) of each metric over runs (seeds); ``inf`` and None are
    kept apart: ``inf`` sorts last (a median may be ``null`` = not recovered)."""
    out: dict[str, Any] = {"seeds": len(runs)}
    for name in RunMetrics.__dataclass_fields__:
        values = [getattr(r, name) for r in runs]
        present = [float(v) for v in values if v is not None]
        if not present:
            out[name] = {"median": None, "min": None, "max": None}
            continue
        out[name] = {
            "median": _clean(statistics.median(present)),
            "min": _clean(min(present)),
            "max": _clean(max(present)),
        }
        if name == "mttr_s":
            out[name]["unrecovered"] = sum(1 for v in present if math.isinf(v))
    return out
