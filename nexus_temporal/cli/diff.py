"""``nexus diff OLD.yaml NEW.yaml [--histories PATH...]``: what changed, per state, between
two definitions (their compiled plans, not their text), and which recorded executions visited
a changed state (docs/versioning.md).

Exit codes: 0 the same plan; 1 the plans differ; 2 a usage error (an invalid definition, a
file that is not a history).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from nexus_temporal.cli._common import output_flag
from nexus_temporal.cli._errors import EXIT_FAILED, EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "diff",
        help="what changed per state between two definitions, and which histories it affects",
        description="Compare two definitions' compiled plans state by state; with --histories, "
        "list the recorded executions that visited a changed state. Exit 1 if they differ.",
    )
    p.add_argument("old", metavar="OLD", help="the definition as deployed (YAML)")
    p.add_argument("new", metavar="NEW", help="the candidate (YAML)")
    p.add_argument(
        "--histories",
        nargs="+",
        metavar="FILE_OR_DIR",
        help="history JSON files (nexus history export) or directories of them",
    )
    output_flag(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.diff import affected_histories, diff_plans
    from nexus_temporal.dsl.compiler import compile_file
    from nexus_temporal.history import HistoryFileError, history_files, load_history

    old, new = compile_file(args.old), compile_file(args.new)  # DefinitionError: exit 2
    diff = diff_plans(old, new)
    if args.histories:
        try:
            files = history_files(args.histories)
            histories = [load_history(f) for f in files]
        except HistoryFileError as exc:
            raise UsageError(str(exc)) from None
        if not files:
            raise UsageError(f"no history files (*.json) in {', '.join(args.histories)}")
        affected_histories(diff, old, histories, [str(f) for f in files])
    if args.output == "json":
        print(json.dumps(diff.to_json(), indent=2))
    else:
        print(diff.render(with_histories=bool(args.histories)))
    return EXIT_FAILED if diff.changed else EXIT_OK
