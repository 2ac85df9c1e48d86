"""``nexus graph FILE``: print a definition as a Mermaid flowchart.

Exit codes: 0 printed; 2 an invalid definition.
"""

from __future__ import annotations

import argparse
from typing import Any

from nexus_temporal.cli._errors import EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("graph", help="print a definition as a Mermaid flowchart")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.dsl.compiler import compile_file
    from nexus_temporal.graph import to_mermaid

    print(to_mermaid(compile_file(args.file)), end="")
    return EXIT_OK
