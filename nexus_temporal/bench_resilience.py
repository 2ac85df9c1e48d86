"""``nexus bench resilience``: scenarios x retry policies x seeds on the virtual-time simulator
(and, with ``--e2e``, a subset on a real dev server), with the issue's targets judged.

:func:`benchmark` builds the report, :func:`render` prints it; the command line is
:mod:`nexus_temporal.cli.bench`.
"""

from __future__ import annotations

import time
from typing import Any


def benchmark(
    scenarios: list[str],
    policies: list[str],
    seeds: int,
    *,
    quick: bool = False,
    forest: bool = True,
    jobs: int | None = None,
    compensate_uncertain: bool = True,
    budget_mode: str = "drop",
) -> dict[str, Any]:
    """The report: every cell, the targets judged, the scoring overhead."""
    from nexus_temporal.resilience.matrix import (
        default_jobs,
        judge,
        run_matrix,
        scoring_overhead,
        workload_json,
    )
    from nexus_temporal.resilience.scenarios import POLICIES, SCENARIOS

    t0 = time.perf_counter()
    forest_every = 30.0 if forest else None
    cells = run_matrix(
        scenarios,
        policies,
        list(range(1, seeds + 1)),
        forest_every=forest_every,
        jobs=jobs or default_jobs(),
        compensate_uncertain=compensate_uncertain,
        budget_mode=budget_mode,
    )
    return {
        "bench": "resilience",
        "mode": "quick" if quick else "full",
        "seeds": seeds,
        "simulator": {
            "workload": workload_json(),
            "forest_every_s": forest_every,
            "compensate_uncertain": compensate_uncertain,
            "breaker": "BreakerSettings() defaults",
            "budget": "RetryBudget() defaults",
            "budget_mode": budget_mode,
        },
        "scenarios": {s: SCENARIOS[s].description for s in scenarios},
        "policies": {p: POLICIES[p].description for p in policies},
        "cells": cells,
        "targets": judge(cells, scenarios),
        "scoring_overhead": scoring_overhead(),
        "e2e": None,
        "wall_s": round(time.perf_counter() - t0, 2),
    }


def benchmark_real(
    seeds: int, *, jobs: int = 4, address: str | None = None, trace_dir: str | None = None
) -> dict[str, Any]:
    """The real-system report (``--real``): the matrix and ablation on a dev server, each cell
    with the simulator's prediction and the difference, and the targets judged on it."""
    from nexus_temporal.resilience.e2e import REAL_SCENARIOS, REAL_WORKLOAD, run_real
    from nexus_temporal.resilience.matrix import judge, scoring_overhead

    t0 = time.perf_counter()
    real = run_real(seeds, jobs=jobs, address=address, trace_dir=trace_dir)
    main = [c for c in real["cells"] if not c["ablation"]]
    return {
        "bench": "resilience",
        "mode": "real",
        "seeds": seeds,
        "workload": real["workload"],
        "mttr_cap": REAL_WORKLOAD.horizon - real["workload"]["onset"],
        "cells": real["cells"],
        "targets": judge(main, list(REAL_SCENARIOS)),
        "scoring_overhead": scoring_overhead(),
        "jobs": jobs,
        "load_before": [round(x, 2) for x in real["load_before"]],
        "trace_dir": real["trace_dir"],
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def sim_vs_real(report: dict[str, Any]) -> str:
    """The real cells beside the simulator's prediction, as a Markdown table."""
    lines = [
        "| scenario | policy | completion real / sim (Δ pp) | amplification real / sim (Δ) "
        "| MTTR s real / sim |",
        "|---|---|---|---|---|",
    ]
    for c in report["cells"]:
        sim, d = c["sim"], c["diff"]
        lines.append(
            f"| {c['scenario']} | {c['policy']} | {_fmt(c['completion'], pct=True)} / "
            f"{_fmt(sim['completion'], pct=True)} ({d['completion_pp']}) "
            f"| {_fmt(c['amplification'])} / {_fmt(sim['amplification'])} ({d['amplification']}) "
            f"| {_fmt(dict(c['mttr_s']), 0, inf=True)} / {_fmt(dict(sim['mttr_s']), 0, inf=True)} |"
        )
    return "\n".join(lines)


def _fmt(m: dict[str, Any], digits: int = 2, pct: bool = False, inf: bool = False) -> str:
    def one(v: Any) -> str:
        if v is None:
            return "∞"
        return f"{100 * v:.0f}%" if pct else f"{v:.{digits}f}"

    if m["median"] is None and not inf:
        return "—"
    return f"{one(m['median'])} [{one(m['min'])}–{one(m['max'])}]"


def table(report: dict[str, Any]) -> str:
    """The cells as a Markdown table: median [min–max] over seeds."""
    head = (
        "| scenario | policy | completion | MTTR s | amplification | goodput wf/s "
        "| p50 s | p99 s | safe rollback |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for c in report["cells"]:
        mttr = dict(c["mttr_s"])
        lines.append(
            f"| {c['scenario']} | {c['policy']} | {_fmt(c['completion'], pct=True)} "
            f"| {_fmt(mttr, 0, inf=True)} | {_fmt(c['amplification'])} | {_fmt(c['goodput'])} "
            f"| {_fmt(c['p50_s'])} | {_fmt(c['p99_s'], 1)} "
            f"| {_fmt(c['safe_rollback'], pct=True)} |"
        )
    return "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    out = [table(report), ""]
    t = report["targets"]
    for name in ("amplification_cut", "mttr_cut", "completion_no_lower", "safe_rollback_100"):
        out.append(f"{name}: {'met' if t[name]['met'] else 'NOT met'}")
    o = report["scoring_overhead"]
    out.append(
        f"scoring overhead: median {o['median_us']} µs, p99 {o['p99_us']} µs per attempt "
        f"({'met' if o['met'] else 'NOT met'}: < {o['target_median_us']} µs)"
    )
    if report.get("mode") == "real":
        out.append(sim_vs_real(report))
    if report.get("e2e"):
        out.append("e2e vs simulator:")
        for row in report["e2e"]["cells"]:
            out.append(
                f"  {row['scenario']}/{row['policy']}: completion real {row['real']['completion']}"
                f" sim {row['sim']['completion']}; amplification real "
                f"{row['real']['amplification']} sim {row['sim']['amplification']}"
            )
    out.append(f"wall {report['wall_s']} s")
    return "\n".join(out)
