"""``nexus validate FILE...``: check definitions without running them.

Besides the definitions themselves it checks what a worker checks at start-up: a ``python:``
target that does not import is an error (a worker refuses it); a cloud target whose provider is
not configured in this environment (``NEXUS_PROVIDERS_FILE`` and the ``NEXUS_*`` variables) is a
warning (a worker started here would refuse it; ``nexus dev`` starts the emulators an
``example.json`` declares).

Exit codes: 0 every definition valid (warnings allowed); 2 an invalid one, or no definition
files.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from activities.config import PROVIDER_SECTIONS
from nexus_temporal.cli._common import output_flag
from nexus_temporal.cli._errors import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from activities.config import ProvidersConfig
    from nexus_temporal.dsl.errors import DefinitionIssue, Location
    from nexus_temporal.dsl.plan import Plan


@dataclass(frozen=True)
class Warning_:
    """What a worker started in this environment would refuse, though the definition is valid."""

    location: Location
    message: str
    state: str | None = None
    hint: str | None = None

    def render(self) -> str:
        where = f" (state '{self.state}')" if self.state else ""
        text = f"{self.location}: warning: {self.message}{where}"
        return text + (f"\n    hint: {self.hint}" if self.hint else "")

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "state": self.state,
            "message": self.message,
            "hint": self.hint,
        }


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check definitions without running them")
    p.add_argument("files", nargs="+", metavar="FILE")
    output_flag(p, json_alias=True)
    p.add_argument(
        "--providers",
        type=Path,
        metavar="FILE",
        help="warn about cloud targets this provider settings file does not configure "
        "[NEXUS_PROVIDERS_FILE]",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from nexus_temporal.cli._common import compile_paths

    plans, issues = compile_paths(args.files)
    target_issues, warnings = check_targets(plans, args.providers)
    refused = {i.location.file for i in target_issues}
    issues += target_issues
    ok = [p for p in plans if p.source not in refused]
    if args.output == "json":
        print(
            json.dumps(
                {
                    "valid": not issues,
                    "definitions": [
                        {"name": p.name, "version": p.version, "hash": p.hash, "file": p.source}
                        for p in ok
                    ],
                    "issues": [i.to_json() for i in issues],
                }
                | ({"warnings": [w.to_json() for w in warnings]} if warnings else {}),
                indent=2,
            )
        )
    else:
        for plan in ok:
            print(f"{plan.source}: ok ({plan.name}@{plan.version}, {plan.hash[:12]})")
        for warning in warnings:  # stdout: stderr is for what fails the command
            print(warning.render())
        for issue in issues:
            print(issue.render(), file=sys.stderr)
    return EXIT_USAGE if issues else EXIT_OK


def check_targets(
    plans: list[Plan], providers_file: Path | None = None
) -> tuple[list[DefinitionIssue], list[Warning_]]:
    """The worker's start-up checks of each target, located in the YAML: ``python:`` targets
    that do not import (issues), cloud targets whose provider is not configured here
    (warnings)."""
    from activities.config import ProvidersConfig
    from nexus_temporal.dsl.errors import Code, DefinitionIssue, Location

    cwd = str(Path.cwd())
    if cwd not in sys.path:  # as the worker does: python: URIs may name project modules
        sys.path.insert(0, cwd)
    issues: list[DefinitionIssue] = []
    warnings: list[Warning_] = []
    providers: ProvidersConfig | None
    try:
        providers = ProvidersConfig.load(providers_file)
    except (OSError, ValueError, TypeError) as exc:
        providers = None
        warnings.append(
            Warning_(
                Location(str(providers_file or "NEXUS_PROVIDERS_FILE")),
                f"provider settings not read, cloud targets not checked: {exc}",
            )
        )
    for plan in plans:
        seen: set[str] = set()
        locator = _Locator(plan)
        for state, action in plan.actions():
            target = plan.target(action)
            if target.uri in seen:
                continue
            scheme = target.uri.split(":", 1)[0]
            if scheme == "python":
                seen.add(target.uri)
                problem = _python_problem(target.uri)
                if problem:
                    message, hint = problem
                    issues.append(
                        DefinitionIssue(
                            locator.locate(target.function, action, state),
                            f"function '{target.function}': {message}",
                            state=state,
                            hint=hint,
                            code=Code.FUNCTION_NOT_FOUND,
                        )
                    )
            elif scheme in PROVIDER_SECTIONS and providers is not None:
                seen.add(target.uri)
                provider = PROVIDER_SECTIONS[scheme]
                if not providers.configured(provider):
                    warnings.append(
                        Warning_(
                            locator.locate(target.function, action, state),
                            f"function '{target.function}': the {scheme} provider is not "
                            "configured in this environment; a worker started here refuses "
                            "this definition",
                            state=state,
                            hint=f"configure '{provider}:' in a providers file "
                            "(--providers FILE or NEXUS_PROVIDERS_FILE, docs/providers.md); "
                            "'nexus dev' starts the emulators an example.json beside the "
                            "definition declares",
                        )
                    )
    return issues, warnings


def _python_problem(uri: str) -> tuple[str, str | None] | None:
    """(message, hint) when ``python:module:function`` does not resolve; the hint is the
    did-you-mean :func:`activities.python.resolve` appends."""
    from activities.python import resolve

    try:
        resolve(uri)
    except LookupError as exc:
        message, sep, hint = str(exc).partition("; did you mean")
        return message, (f"did you mean{hint}" if sep else None)
    except Exception as exc:  # the module raised while importing: the worker fails too
        return f"importing '{uri}' raised {type(exc).__name__}: {exc}", None
    return None


class _Locator:
    """Where a function's URI is written in a plan's YAML (positions from the loader)."""

    def __init__(self, plan: Plan) -> None:
        from nexus_temporal.dsl.loader import load_yaml_file

        self.plan = plan
        self.doc = load_yaml_file(plan.source)

    def locate(self, function: str, action: str, state: str) -> Location:
        from nexus_temporal.dsl.schema import FunctionSpec

        fn = self.plan.definition.functions.get(function)
        if fn is not None:
            rel = ("uri",) if isinstance(fn, FunctionSpec) else ()
            return self.doc.location(("functions", function, *rel))
        path = _state_path(self.doc.data.get("states"), ("states",), state)
        if path is None:
            return self.doc.location(())
        return self.doc.location(_value_path(self.doc.data, path, action) or path)


def _state_path(states: Any, path: tuple[Any, ...], name: str) -> tuple[Any, ...] | None:
    from nexus_temporal.dsl.schema import STATE_MODEL_BY_TYPE

    if not isinstance(states, list):
        return None
    for i, raw in enumerate(states):
        if not isinstance(raw, dict):
            continue
        if raw.get("name") == name:
            return path + (i,)
        model = STATE_MODEL_BY_TYPE.get(raw.get("type", "task"))
        for children, rel in model.written_children(raw) if model else ():
            found = _state_path(children, path + (i, *rel), name)
            if found is not None:
                return found
    return None


def _value_path(data: Any, path: tuple[Any, ...], value: str) -> tuple[Any, ...] | None:
    node = data
    for part in path:
        node = node[part]
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        if child == value:
            return path + (key,)
        if isinstance(child, (dict, list)) and key not in ("states", "branches"):
            found = _value_path(data, path + (key,), value)
            if found is not None:
                return found
    return None
