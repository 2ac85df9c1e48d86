"""``nexus bench resilience``: scenarios x retry policies x seeds on the virtual-time simulator
(and, with ``--e2e``, a subset on a real dev server), with the issue's targets judged.

Exit codes: 0 the benchmark ran (targets met or not: the report says which); 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add ``resilience`` to ``nexus bench`` (``handler`` set as the default)."""
    b = subparsers.add_parser(
        "resilience", help="retry policies under fault scenarios (virtual-time simulator)"
    )
    b.add_argument(
        "--quick",
        action="store_true",
        help="overload, brownout, transient-20; static vs adaptive; 3 seeds; simulator only",
    )
    b.add_argument("--json", action="store_true", help="print the report as JSON")
    b.add_argument("--chart", metavar="FILE.png", help="write a PNG chart of the cells")
    b.add_argument("--seeds", type=int, help="seeds per cell [5; --quick: 3]")
    b.add_argument("--scenario", dest="scenarios", action="append", help="only these")
    b.add_argument("--policy", dest="policies", action="append", help="only these")
    b.add_argument("--jobs", type=int, help="simulator processes [min(2, CPUs)]")
    b.add_argument(
        "--no-forest",
        action="store_true",
        help="never fit the IsolationForest in the simulator (faster; --quick implies it)",
    )
    b.add_argument(
        "--no-compensate-uncertain",
        dest="compensate_uncertain",
        action="store_false",
        help="the former DSL semantics: a step that failed for good is never undone and a "
        "fallback is called without undoing the primary (for comparison; see docs)",
    )
    b.add_argument(
        "--budget-wait",
        action="store_true",
        help="a retry that finds the budget spent waits for it instead of failing the call",
    )
    b.add_argument(
        "--e2e",
        action="store_true",
        help="also run brownout and transient-20, static vs adaptive, on a private dev server",
    )
    b.add_argument("--address", help="--e2e: use this server instead of starting one")
    b.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.resilience.scenarios import (
        POLICIES,
        QUICK_POLICIES,
        QUICK_SCENARIOS,
        SCENARIOS,
    )

    scenarios = args.scenarios or (list(QUICK_SCENARIOS) if args.quick else list(SCENARIOS))
    policies = args.policies or (list(QUICK_POLICIES) if args.quick else list(POLICIES))
    for kind, names, known in (
        ("scenario", scenarios, SCENARIOS),
        ("policy", policies, POLICIES),
    ):
        unknown = [n for n in names if n not in known]
        if unknown:
            print(
                f"nexus: error: unknown {kind} {', '.join(unknown)} (known: {', '.join(known)})",
                file=sys.stderr,
            )
            return EXIT_USAGE
    seeds = args.seeds if args.seeds is not None else (3 if args.quick else 5)
    if seeds < 1:
        print("nexus: error: --seeds must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.jobs is not None and args.jobs < 1:
        print("nexus: error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    report = benchmark(
        scenarios,
        policies,
        seeds,
        quick=args.quick,
        forest=not (args.quick or args.no_forest),
        jobs=args.jobs,
        compensate_uncertain=args.compensate_uncertain,
        budget_mode="wait" if args.budget_wait else "drop",
    )
    if args.e2e:
        import asyncio

        from nexus_temporal.resilience.e2e import run_e2e

        report["e2e"] = asyncio.run(run_e2e(address=args.address))
    if args.chart:
        from nexus_temporal.resilience.chart import bench_chart

        bench_chart(report, args.chart)
        report["chart"] = args.chart
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


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
