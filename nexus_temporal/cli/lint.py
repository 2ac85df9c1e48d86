"""``nexus lint``: check definitions against policy rules (docs/policies.md).

Exit codes: 0 no violation at the ``--fail-on`` severity or above (default ``error``:
warnings are printed, and pass); 1 at least one; 2 a usage error, an invalid definition or an
invalid policy file. ``--format sarif`` prints SARIF 2.1.0 (GitHub code scanning).
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
    p.add_argument(
        "--format",
        "-f",
        choices=("text", "json", "sarif"),
        default="text",
        help="text for people, json, or sarif (SARIF 2.1.0, for GitHub code scanning) [text]",
    )
    p.add_argument(
        "--json", dest="format", action="store_const", const="json", help="--format json"
    )
    p.add_argument(
        "--fail-on",
        choices=("warning", "error"),
        default="error",
        help="exit 1 when a violation of this severity or above is found; 'warning' gates CI "
        "on warnings too [error]",
    )
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
    if args.format == "sarif":
        print(json.dumps(sarif(violations, issues, policies), indent=2))
    elif args.format == "json":
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
    failing = errors if args.fail_on == "error" else len(violations)
    return EXIT_FAILED if failing else EXIT_OK


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: The ruleId of a definition that does not compile (located like a violation).
INVALID_DEFINITION = "nexus/invalid-definition"


def sarif(violations: list[Any], issues: list[Any], policies: list[Any]) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run: a result per violation (ruleId the rule's id, level its
    severity) and per definition issue (ruleId :data:`INVALID_DEFINITION`, level error), each
    located (artifactLocation uri relative to the working directory, region startLine and
    startColumn when known); the rules of every policy in ``tool.driver.rules``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool_version = version("nexus-temporal")
    except PackageNotFoundError:
        tool_version = "0"
    rules: dict[str, dict[str, Any]] = {}
    for policy in policies:
        for rule in policy.rules:
            rules.setdefault(
                rule.id,
                {
                    "id": rule.id,
                    "shortDescription": {"text": rule.message},
                    "defaultConfiguration": {"level": _level(rule.severity)},
                    "properties": {"policy": _uri(policy.file), "rule": rule.rule},
                },
            )
    results = [_result(v.rule, _level(v.severity), _text(v), v.location) for v in violations] + [
        _result(INVALID_DEFINITION, "error", i.message, i.location) for i in issues
    ]
    if issues:
        rules.setdefault(
            INVALID_DEFINITION,
            {
                "id": INVALID_DEFINITION,
                "shortDescription": {"text": "the definition does not compile"},
                "defaultConfiguration": {"level": "error"},
            },
        )
    index = {rule_id: i for i, rule_id in enumerate(rules)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nexus lint",
                        "version": tool_version,
                        "rules": list(rules.values()),
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _level(severity: str) -> str:
    return "error" if severity == "error" else "warning"


def _text(v: Any) -> str:
    where = f" (state '{v.state}')" if v.state else ""
    where = where or (f" (function '{v.function}')" if v.function else "")
    return f"{v.message}{where}"


def _result(rule_id: str, level: str, message: str, location: Any) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(location.file)}}
    if location.line:
        physical["region"] = {
            "startLine": location.line,
            "startColumn": max(location.column, 1),
        }
    return {
        "ruleId": rule_id,
        "level": level,
        "message": {"text": message},
        "locations": [{"physicalLocation": physical}],
    }


def _uri(file: str) -> str:
    """Relative to the working directory (the repository root in CI), as code scanning wants;
    a file elsewhere as a file: URI."""
    from pathlib import Path

    path = Path(file)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return path.resolve().as_uri() if path.is_absolute() or path.exists() else file


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
