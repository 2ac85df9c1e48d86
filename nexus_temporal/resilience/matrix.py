"""Run the scenario x policy x seed matrix on the simulator and judge the issue's targets."""

from __future__ import annotations

import math
import os
import random
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from typing import Any

from nexus_temporal.resilience.metrics import RunMetrics, aggregate
from nexus_temporal.resilience.scenarios import POLICIES, SCENARIOS, Workload
from nexus_temporal.resilience.simulator import simulate

__all__ = ["judge", "run_matrix", "scoring_overhead"]


def _one(
    args: tuple[str, str, int, float | None, bool, str],
) -> tuple[str, str, int, RunMetrics]:
    scenario, policy, seed, forest_every, compensate_uncertain, budget_mode = args
    result = simulate(
        SCENARIOS[scenario],
        POLICIES[policy],
        seed,
        forest_every=forest_every,
        compensate_uncertain=compensate_uncertain,
        budget_mode=budget_mode,
    )
    return scenario, policy, seed, result.metrics


def run_matrix(
    scenarios: Sequence[str],
    policies: Sequence[str],
    seeds: Sequence[int],
    *,
    forest_every: float | None = 30.0,
    jobs: int = 1,
    compensate_uncertain: bool = True,
    budget_mode: str = "drop",
) -> list[dict[str, Any]]:
    """One cell per (scenario, policy): the median and spread of every metric over seeds."""
    tasks = [
        (s, p, seed, forest_every, compensate_uncertain, budget_mode)
        for s in scenarios
        for p in policies
        for seed in seeds
    ]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_one, tasks))
    else:
        results = [_one(t) for t in tasks]
    cells = []
    for s in scenarios:
        for p in policies:
            runs = [m for (rs, rp, _, m) in results if rs == s and rp == p]
            cells.append({"scenario": s, "policy": p, **aggregate(runs)})
    return cells


def _median(cells: list[dict[str, Any]], scenario: str, policy: str, metric: str) -> Any:
    for c in cells:
        if c["scenario"] == scenario and c["policy"] == policy:
            return c[metric]["median"]
    return None


def _cut(static: float | None, adaptive: float | None) -> float | None:
    """Relative reduction from static to adaptive (None = not recovered = infinite)."""
    s = math.inf if static is None else static
    a = math.inf if adaptive is None else adaptive
    if math.isinf(s):
        return None if math.isinf(a) else 1.0
    if s <= 0:
        return 0.0 if a <= 0 else -math.inf
    return 1.0 - a / s


def judge(cells: list[dict[str, Any]], scenarios: Sequence[str]) -> dict[str, Any]:
    """The issue's targets, each with the numbers it rests on and ``met``."""
    out: dict[str, Any] = {}
    for name, metric, need in (
        ("amplification_cut", "amplification", 0.5),
        ("mttr_cut", "mttr_s", 0.3),
    ):
        rows = {}
        for s in ("overload", "brownout"):
            if s not in scenarios:
                continue
            st, ad = _median(cells, s, "static", metric), _median(cells, s, "adaptive", metric)
            cut = _cut(st, ad)
            rows[s] = {
                "static": st,
                "adaptive": ad,
                "cut": None if cut is None or math.isinf(cut) else round(cut, 3),
                "needed": need,
                "met": cut is not None and cut >= need,
            }
        out[name] = {"met": all(r["met"] for r in rows.values()) if rows else None, **rows}
    rows = {}
    for s in scenarios:
        st = _median(cells, s, "static", "completion")
        ad = _median(cells, s, "adaptive", "completion")
        if st is None or ad is None:
            continue
        rows[s] = {"static": st, "adaptive": ad, "met": ad >= st}
    out["completion_no_lower"] = {"met": all(r["met"] for r in rows.values()), **rows}
    worst = []
    for c in cells:
        v = c["safe_rollback"]["min"]
        if v is not None and v < 1.0:
            worst.append({"scenario": c["scenario"], "policy": c["policy"], "min": v})
    out["safe_rollback_100"] = {"met": not worst, "below": worst}
    return out


def scoring_overhead(attempts: int = 20000, targets: int = 8, seed: int = 0) -> dict[str, Any]:
    """Per-attempt cost of ``AnomalyScorer.record`` + ``score`` (the call path), in µs."""
    from policies.scorer import AnomalyScorer, Attempt, Outcome

    rng = random.Random(seed)
    scorer = AnomalyScorer()
    names = [f"fn-{i}" for i in range(targets)]
    outcomes = [Outcome.OK] * 17 + [Outcome.ERROR, Outcome.TIMEOUT, Outcome.THROTTLED]
    samples: list[float] = []
    now = 0.0
    for _ in range(attempts):
        now += rng.expovariate(100.0)
        target = rng.choice(names)
        attempt = Attempt(target, now, rng.lognormvariate(-1.5, 0.4), rng.choice(outcomes))
        t0 = time.perf_counter_ns()
        scorer.record(attempt)
        scorer.score(target, now)
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    samples.sort()
    return {
        "attempts": attempts,
        "median_us": round(statistics.median(samples), 2),
        "p99_us": round(samples[int(0.99 * (len(samples) - 1))], 2),
        "target_median_us": 50.0,
        "met": statistics.median(samples) < 50.0,
    }


def workload_json(workload: Workload | None = None) -> dict[str, Any]:
    return asdict(workload or Workload())


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))
