"""``nexus schema``: print the JSON Schema of the NEXUS format."""

from __future__ import annotations

import argparse
import json
from typing import Any

from nexus_temporal.cli._errors import EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("schema", help="print the JSON Schema of the NEXUS format")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.dsl.schema import Definition

    print(json.dumps(Definition.model_json_schema(by_alias=True), indent=2))
    return EXIT_OK
