"""``nexus bench overhead|fanout|resilience``: the benchmarks (docs/operations.md,
docs/resilience.md). The benchmarks themselves are :mod:`nexus_temporal.bench`,
:mod:`nexus_temporal.bench_fanout` and :mod:`nexus_temporal.bench_resilience`.

Exit codes: 0 the benchmark ran (targets met or not: the report says which); 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from nexus_temporal.cli._errors import EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="benchmarks")
    bsub = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    b = bsub.add_parser("overhead", help="interpreter vs hand-written workflow, ms per state")
    b.add_argument("--states", type=int, default=50)
    b.add_argument("--rounds", type=int, default=7)
    b.add_argument("--express", action="store_true", help="tasks as local activities")
    b.add_argument("--json", action="store_true")
    b.add_argument("--address", help="use this server instead of starting one")
    b.set_defaults(handler=handle_overhead)
    b = bsub.add_parser("fanout", help="an N-item map vs a hand-written fan-out, items/s")
    b.add_argument("--items", type=int, default=10000)
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--concurrency", type=int, default=200)
    b.add_argument("--json", action="store_true")
    b.add_argument("--address", help="use this server instead of starting one")
    b.set_defaults(handler=handle_fanout)
    _register_resilience(bsub)


def handle_overhead(args: argparse.Namespace) -> int:
    from nexus_temporal.bench import overhead

    report = asyncio.run(
        overhead(states=args.states, rounds=args.rounds, address=args.address, express=args.express)
    )
    text = (
        f"interpreter {report['interpreter_median_ms']:.1f} ms, hand-written "
        f"{report['baseline_median_ms']:.1f} ms, ratio {report['ratio']:.3f}"
    )
    print(json.dumps(report, indent=2) if args.json else text)
    return EXIT_OK


def handle_fanout(args: argparse.Namespace) -> int:
    from nexus_temporal.bench_fanout import fanout

    report = asyncio.run(fanout(args.items, args.batch, args.concurrency, args.address))
    text = (
        f"interpreter {report['interpreter_items_per_s']:.0f} items/s, hand-written "
        f"{report['baseline_items_per_s']:.0f} items/s, ratio {report['ratio']:.3f}, "
        f"largest history {report['largest_history_events']} events, peak RSS "
        f"{report['peak_worker_rss_mib']:.0f} MiB"
    )
    print(json.dumps(report, indent=2) if args.json else text)
    return EXIT_OK


def _register_resilience(subparsers: Any) -> None:
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
        "--real",
        "--e2e",
        dest="real",
        action="store_true",
        help="the matrix (6 scenarios x static, adaptive, adaptive-fallback, and the ablation) "
        "on a private dev server instead of the simulator; about 15 minutes",
    )
    b.add_argument("--real-jobs", type=int, default=4, help="--real: cells at once [4]")
    b.add_argument("--trace-dir", help="--real: keep the per-attempt JSONL traces here")
    b.add_argument("--address", help="--real: use this server instead of starting one")
    b.set_defaults(handler=handle_resilience)


def handle_resilience(args: argparse.Namespace) -> int:
    from nexus_temporal.bench_resilience import benchmark, render
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
            raise UsageError(f"unknown {kind} {', '.join(unknown)} (known: {', '.join(known)})")
    if (args.address or args.trace_dir) and not args.real:  # else silently ignored
        raise UsageError("--address and --trace-dir are for --real only")
    if args.real_jobs < 1:
        raise UsageError("--real-jobs must be at least 1")
    seeds = args.seeds if args.seeds is not None else (3 if args.quick else 5)
    if seeds < 1:
        raise UsageError("--seeds must be at least 1")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.real:
        from nexus_temporal.bench_resilience import benchmark_real

        report = benchmark_real(
            args.seeds or 2, jobs=args.real_jobs, address=args.address, trace_dir=args.trace_dir
        )
        if args.chart:
            from nexus_temporal.resilience.chart import bench_chart

            bench_chart(report, args.chart)
            report["chart"] = args.chart
        print(json.dumps(report, indent=2) if args.json else render(report))
        return EXIT_OK
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
    if args.chart:
        from nexus_temporal.resilience.chart import bench_chart

        bench_chart(report, args.chart)
        report["chart"] = args.chart
    print(json.dumps(report, indent=2) if args.json else render(report))
    return EXIT_OK
