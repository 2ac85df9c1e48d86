"""``nexus insights``: which functions' failures go together (docs/resilience.md#insights).

From recorded executions (history files, or executions fetched from a server by id or by a
visibility query) or from a simulator run, it prints the strongest failure-correlation edges
``A -> B`` with their counts and lift, and optionally writes them as Mermaid text and a PNG.

Exit codes: 0 done (with or without edges); 1 the server is unreachable; 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from nexus_temporal.cli._common import connect, connection_flags, fetch_histories
from nexus_temporal.cli._errors import EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    """Add ``insights`` to the ``nexus`` command line (``handler`` set as the default)."""
    p = subparsers.add_parser(
        "insights",
        help="failure correlation between functions from recorded executions",
        description="Estimate P(B fails | A failed within a window) against B's base rate for "
        "every pair of functions (or states) and print the strongest edges.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--history", nargs="+", metavar="FILE_OR_DIR", help="history JSON files or directories"
    )
    source.add_argument(
        "--workflow-id", nargs="+", metavar="ID", help="fetch these executions from the server"
    )
    source.add_argument(
        "--query", metavar="QUERY", help="fetch every execution a visibility query matches"
    )
    source.add_argument(
        "--simulate",
        metavar="SCENARIO[/POLICY]",
        help="trace one simulator run (nexus bench resilience scenarios; policy [static])",
    )
    p.add_argument("--window", default="60s", help="how far back an A failure counts [60s]")
    p.add_argument(
        "--by", choices=("function", "state"), default="function", help="node kind [function]"
    )
    p.add_argument(
        "--scope",
        choices=("global", "execution"),
        default="global",
        help="A failures in any execution, or only in B's own [global]",
    )
    p.add_argument("--min-support", type=int, default=3, help="least n_ab for an edge [3]")
    p.add_argument("--alpha", type=float, default=0.01, help="largest p-value for an edge")
    p.add_argument("--top", type=int, default=10, help="edges printed [10]")
    p.add_argument("--seed", type=int, default=1, help="--simulate: the seed [1]")
    p.add_argument("--mermaid", metavar="FILE", help="write the edges as a Mermaid flowchart")
    p.add_argument("--png", metavar="FILE", help="write the edges as a PNG graph")
    p.add_argument("--json", action="store_true", help="print the edges as JSON")
    connection_flags(p, task_queue=False)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.dsl.durations import parse_duration
    from nexus_temporal.history import HistoryFileError

    try:
        window = parse_duration(args.window)
    except (ValueError, TypeError) as exc:
        raise _usage(f"--window {args.window!r}: {exc}") from None
    if args.min_support < 1 or args.top < 1 or not 0 < args.alpha <= 1:
        raise _usage("--min-support and --top must be >= 1, --alpha in (0, 1]")
    try:
        observations, executions = _observations(args)
    except (UsageError, HistoryFileError) as exc:
        raise _usage(str(exc)) from None
    from nexus_temporal.resilience.insights import correlate, to_mermaid

    edges = correlate(
        observations, window, scope=args.scope, min_support=args.min_support, alpha=args.alpha
    )
    shown = edges[: args.top]
    if args.mermaid:
        with open(args.mermaid, "w") as f:
            f.write(to_mermaid(shown))
    if args.png:
        from nexus_temporal.resilience.chart import graph_png

        nodes = sorted({o.node for o in observations})
        graph_png(nodes, [e.to_json() for e in shown], args.png)
    nodes_failed = {o.node for o in observations if o.failed}
    if args.json:
        print(
            json.dumps(
                {
                    "executions": executions,
                    "observations": len(observations),
                    "failures": sum(o.failed for o in observations),
                    "window_s": window,
                    "by": args.by,
                    "scope": args.scope,
                    "edges": [e.to_json() for e in shown],
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(
        f"{executions} executions, {len(observations)} calls, "
        f"{sum(o.failed for o in observations)} failed ({len(nodes_failed)} "
        f"{args.by}s with failures); window {window:g}s, scope {args.scope}"
    )
    if not shown:
        print("no correlated failures (n_ab >= min-support, lift > 1, p <= alpha)")
    for e in shown:
        print(
            f"{e.source} -> {e.target}: lift {e.lift:.2f}  P(B|A) {e.p_b_given_a:.2f} "
            f"({e.n_ab}/{e.exposed}) vs P(B) {e.p_b:.2f} ({e.n_b}/{e.total}); "
            f"n_a {e.n_a}, p {e.p_value:.2g}"
        )
    return EXIT_OK


def _observations(args: argparse.Namespace) -> tuple[list[Any], int]:
    from nexus_temporal.resilience.insights import (
        observations_from_history,
        observations_from_trace,
    )

    if args.simulate:
        from nexus_temporal.resilience.scenarios import POLICIES, SCENARIOS
        from nexus_temporal.resilience.simulator import simulate

        scenario, _, policy = args.simulate.partition("/")
        policy = policy or "static"
        if scenario not in SCENARIOS or policy not in POLICIES:
            raise UsageError(
                f"--simulate {args.simulate}: scenarios {', '.join(SCENARIOS)}; "
                f"policies {', '.join(POLICIES)}"
            )
        result = simulate(
            SCENARIOS[scenario], POLICIES[policy], args.seed, forest_every=None, trace=True
        )
        obs = observations_from_trace(result.trace)
        return obs, len({o.execution for o in obs})
    if args.history:
        from nexus_temporal.history import history_files, load_history

        files = history_files(args.history)
        if not files:
            raise UsageError(f"no history files (*.json) in {', '.join(args.history)}")
        histories = [load_history(f) for f in files]
    else:
        histories = asyncio.run(_fetch(args))
    obs = [o for h in histories for o in observations_from_history(h, args.by)]
    return obs, len(histories)


async def _fetch(args: argparse.Namespace) -> list[Any]:
    client = await connect(args, codec_keys_first=False)
    return await fetch_histories(client, args.workflow_id or (), args.query)


def _usage(message: str) -> UsageError:
    """A usage error of this verb: ``nexus: error: insights: MESSAGE``."""
    return UsageError(f"insights: {message}")
