"""``nexus demo [PATH]``: run every example's scenarios on the embedded dev server
(:func:`nexus_temporal.demo.demo`).

Exit codes: 0 every example behaved as expected; 1 one did not; 2 an invalid definition.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="run every example on the embedded dev server")
    p.add_argument("path", nargs="?", default="examples")
    p.add_argument("--db", default=".nexus/temporal.db")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.demo import demo

    return asyncio.run(demo(Path(args.path), Path(args.db)))
