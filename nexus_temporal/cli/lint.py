"""``nexus lint``: check definitions against policy rules (docs/policies.md).

Exit codes: 0 no error-severity violation; 1 at least one; 2 a usage error, an invalid
definition or an invalid policy file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nexus_temporal.cli._errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def register(subparsers: Any) -> None:
    """Add ``lint`` to the ``nexus`` command line (``handler`` set as the default)."""
    p = subparsers.add_parser(
        "lint", help="check definitions against policy rules (policy-as-code)"
    )
    p.add_argument("files", nargs="+", metavar="DEFINITION", help="YAML files or directories")
    p.add_argument(
        "--policy",
        "-p",
        dest="policies",
        action="append",
        default=[],
        metavar="FILE",
        help="a policy file, repeatable; 'default' names the built-in rules "
        "(used when no --policy is given)",
    )
    p.add_argument("--json", action="store_true", help="print violations as JSON")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.cli._common import compile_paths
    from nexus_temporal.dsl.errors import DefinitionError
    from policies.engine import Violation, check_plan, load_policies

    policies = load_policies(args.policies or ["default"])  # DefinitionError: exit 2
    plans, issues = compile_paths(args.files)
    violations: list[Violation] = []
    for plan in plans:
        try:
            violations.extend(check_plan(plan, policies))
        except DefinitionError as exc:  # a rule that cannot be evaluated, located at the rule
            issues.extend(exc.issues)
    errors = sum(1 for v in violations if v.is_error)
    if args.json:
        print(
            json.dumps(
                {
                    "violations": [_json(v) for v in violations],
                    "issues": [i.to_json() for i in issues],
                    "errors": errors,
                    "warnings": len(violations) - errors,
                },
                indent=2,
            )
        )
    else:
        for v in violations:
            print(v.render())
        for issue in issues:
            print(issue.render(), file=sys.stderr)
        rules = sum(len(p.rules) for p in policies)
        print(
            f"{errors} error(s), {len(violations) - errors} warning(s) in "
            f"{len(plans)} definition(s), {rules} rule(s)",
            file=sys.stderr,
        )
    if issues:
        return EXIT_USAGE
    return EXIT_FAILED if errors else EXIT_OK


def _json(v: Any) -> dict[str, Any]:
    return {
        "file": v.location.file,
        "line": v.location.line,
        "column": v.location.column,
        "severity": v.severity,
        "rule": v.rule,
        "message": v.message,
        "definition": v.definition,
        "state": v.state,
        "function": v.function,
        "policy": v.policy,
    }
