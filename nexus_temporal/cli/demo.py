"""``nexus demo [PATH]``: run every example's scenarios on the embedded dev server
(:func:`nexus_temporal.demo.demo`).

The dev server it starts stays up afterwards (Web UI included) until Ctrl-C when stdout is a
terminal, or with ``--keep``; otherwise (CI, a pipe) it stops, and the last line says how to
browse the executions again: ``nexus dev`` on the same ``--db`` file.

Exit codes: 0 every example behaved as expected; 1 one did not; 2 an invalid definition.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="run every example on the embedded dev server")
    p.add_argument("path", nargs="?", default="examples")
    p.add_argument("--db", default=".nexus/temporal.db")
    p.add_argument("--address", default="127.0.0.1:7233", help="[127.0.0.1:7233]")
    p.add_argument("--ui-port", type=int, default=8233, help="[8233]")
    p.add_argument(
        "--keep",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the dev server (and its Web UI) up until Ctrl-C [when stdout is a terminal]",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.demo import demo

    keep = args.keep if args.keep is not None else sys.stdout.isatty() and sys.stdin.isatty()
    return asyncio.run(
        demo(Path(args.path), Path(args.db), keep=keep, address=args.address, ui_port=args.ui_port)
    )
