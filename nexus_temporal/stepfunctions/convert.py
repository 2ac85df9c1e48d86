"""Convert an ASL state machine into a NEXUS definition.

How the ASL data model is carried: the NEXUS data of a migrated workflow is an envelope
``{"value": <the ASL state value>, "vars": {<ASL variables>}}``. A first state ``(start)``
wraps the workflow input exactly as given (``$context.Execution.Input``: a list or a string
too, where the NEXUS data would be ``{"input": ...}``); every state reads ``$data.value`` and
writes ``value`` (tasks through ``assign``, so nothing is stored under state names); top-level
ends go through ``(end)``, which returns ``value`` as the workflow result. Each ASL state
becomes one NEXUS state of the same name, plus helper states named ``<state> (<role>)`` where
one is not enough (catchers, a Parallel's effective input, a callback wait, a Choice without
Default or reading a missing path, a top-level Parallel's uncaught failure).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from nexus_temporal.dsl.errors import Code, DefinitionIssue, did_you_mean
from nexus_temporal.stepfunctions.context import END, START, MachineContext, StateContext
from nexus_temporal.stepfunctions.jsonata_mode import REWRITTEN
from nexus_temporal.stepfunctions.load import AslDocument, AslError, load_data, load_text
from nexus_temporal.stepfunctions.paths import PathError
from nexus_temporal.stepfunctions.report import ReportItem
from nexus_temporal.stepfunctions.states import (
    choice,
    fail,
    map,
    parallel,
    pass_,
    succeed,
    task,
    wait,
)

StateConverter = Callable[[StateContext], list[dict[str, Any]]]
#: One converter per ASL state ``Type`` (``states/<type>.py``); the types the importer accepts.
CONVERTERS: dict[str, StateConverter] = {
    "Task": task.convert,
    "Choice": choice.convert,
    "Parallel": parallel.convert,
    "Map": map.convert,
    "Pass": pass_.convert,
    "Wait": wait.convert,
    "Succeed": succeed.convert,
    "Fail": fail.convert,
}
STATE_TYPES = tuple(CONVERTERS)


@dataclass(frozen=True)
class Conversion:
    """The result of converting one state machine.

    Attributes:
        yaml_text: the NEXUS YAML.
        report: every finding, per ASL state.
        functions: the ``functions:`` keys the user must supply (service integrations).
    """

    yaml_text: str
    report: list[ReportItem]
    functions: list[str]


def convert_asl(
    asl: dict[str, Any] | str, *, name: str, version: str = "1", source: str = "<asl>"
) -> Conversion:
    """Convert a parsed ASL document (or its JSON/YAML text) to NEXUS YAML.

    Raises:
        AslError: on invalid ASL, located (file:line:col) when text was given.
    """
    doc = load_text(asl, source) if isinstance(asl, str) else load_data(asl, source)
    return Converter(doc, name, str(version)).run()


def retarget(yaml_text: str, targets: dict[str, Any]) -> str:
    """Point functions of a converted definition elsewhere: ``targets`` maps a ``functions:``
    key to its new target (a URI string or a function mapping)."""
    if not targets:
        return yaml_text
    data = yaml.safe_load(yaml_text)
    unknown = sorted(set(targets) - set(data.get("functions") or {}))
    if unknown:
        raise KeyError(f"no such function(s): {', '.join(unknown)}")
    data["functions"].update(targets)
    return _dump(data)


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


class Converter(MachineContext):
    """The driver: validates the document, converts each scope state by state through
    :data:`CONVERTERS`, and assembles the definition and the report."""

    def __init__(self, doc: AslDocument, name: str, version: str) -> None:
        super().__init__(machine_jsonata=doc.data.get("QueryLanguage") == "JSONata")
        self.doc = doc
        self.name = name
        self.version = version

    # -- validation --------------------------------------------------------------------------

    def validate(self) -> None:
        issues: list[DefinitionIssue] = []
        self._validate_scope(self.doc.data, (), issues)
        if issues:
            raise AslError(issues)

    def _issue(
        self,
        issues: list[DefinitionIssue],
        path: tuple[Any, ...],
        message: str,
        state: str | None = None,
        hint: str | None = None,
        code: str = Code.ASL,
    ) -> None:
        issues.append(DefinitionIssue(self.doc.location(path), message, state, hint, code))

    def _validate_scope(
        self, scope: Any, path: tuple[Any, ...], issues: list[DefinitionIssue]
    ) -> None:
        if not isinstance(scope, dict):
            self._issue(issues, path, "expected an object with 'StartAt' and 'States'")
            return
        states = scope.get("States")
        if not isinstance(states, dict) or not states:
            self._issue(
                issues,
                path + ("States",),
                "'States' must be a non-empty object",
                code=Code.MISSING_FIELD,
            )
            return
        start = scope.get("StartAt")
        if not isinstance(start, str):
            self._issue(
                issues, path + ("StartAt",), "'StartAt' must name a state", code=Code.MISSING_FIELD
            )
        elif start not in states:
            self._issue(
                issues,
                path + ("StartAt",),
                f"'StartAt' names unknown state '{start}'",
                hint=did_you_mean(start, states),
                code=Code.UNKNOWN_STATE,
            )
        for name, state in states.items():
            here = path + ("States", name)
            if name == "QueryLanguage" and state in ("JSONata", "JSONPath"):
                continue  # misplaced, but unambiguous: read as the scope's QueryLanguage
            if not isinstance(state, dict):
                self._issue(issues, here, "a state must be an object", name)
                continue
            kind = state.get("Type")
            if kind not in STATE_TYPES:
                hint = (
                    did_you_mean(str(kind), STATE_TYPES) or f"use one of {', '.join(STATE_TYPES)}"
                )
                self._issue(
                    issues,
                    here + ("Type",),
                    f"unknown state type {kind!r}",
                    name,
                    hint,
                    "unknown-type",
                )
                continue

            def target(value: Any, where: tuple[Any, ...], state_name: str = name) -> None:
                if not isinstance(value, str) or value not in states:
                    self._issue(
                        issues,
                        where,
                        f"'{where[-1]}' names unknown state {value!r}",
                        state_name,
                        did_you_mean(str(value), states),
                        "unknown-state",
                    )

            if "Next" in state:
                target(state["Next"], here + ("Next",))
            elif kind in ("Task", "Pass", "Wait", "Parallel", "Map") and not state.get("End"):
                self._issue(
                    issues,
                    here,
                    f"a {kind} state needs 'Next' or 'End': true",
                    name,
                    code=Code.MISSING_FIELD,
                )
            if kind == "Choice":
                rules = state.get("Choices")
                if not isinstance(rules, list) or not rules:
                    self._issue(
                        issues,
                        here + ("Choices",),
                        "'Choices' must be a non-empty list",
                        name,
                        code=Code.MISSING_FIELD,
                    )
                else:
                    for i, rule in enumerate(rules):
                        target(
                            rule.get("Next") if isinstance(rule, dict) else None,
                            here + ("Choices", i, "Next"),
                        )
                if "Default" in state:
                    target(state["Default"], here + ("Default",))
            for i, catcher in enumerate(state.get("Catch") or []):
                target(
                    catcher.get("Next") if isinstance(catcher, dict) else None,
                    here + ("Catch", i, "Next"),
                )
            if kind == "Parallel":
                branches = state.get("Branches")
                if not isinstance(branches, list) or not branches:
                    self._issue(
                        issues,
                        here + ("Branches",),
                        "'Branches' must be a non-empty list",
                        name,
                        code=Code.MISSING_FIELD,
                    )
                else:
                    for i, branch in enumerate(branches):
                        self._validate_scope(branch, here + ("Branches", i), issues)
            if kind == "Map":
                key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
                if key not in state:
                    self._issue(
                        issues,
                        here,
                        "a Map state needs 'ItemProcessor'",
                        name,
                        code=Code.MISSING_FIELD,
                    )
                else:
                    self._validate_scope(state[key], here + (key,), issues)
            for key in ("Assign",):
                if isinstance(state.get(key), dict):
                    self.variables.update(k[:-2] if k.endswith(".$") else k for k in state[key])
            for catcher in state.get("Catch") or []:
                if isinstance(catcher, dict) and isinstance(catcher.get("Assign"), dict):
                    self.variables.update(catcher["Assign"])
            for rule in state.get("Choices") or []:
                if isinstance(rule, dict) and isinstance(rule.get("Assign"), dict):
                    self.variables.update(rule["Assign"])

    # -- conversion --------------------------------------------------------------------------

    def run(self) -> Conversion:
        self.validate()
        data = self.doc.data
        for key in ("TimeoutSeconds",):
            if key in data:
                self.approx(
                    "",
                    f"machine '{key}' is not carried: NEXUS workflows have no "
                    "overall timeout; start the workflow with an execution timeout "
                    "(temporal workflow start --execution-timeout)",
                )
        if "Version" in data:
            self.ok("", f"ASL Version {data['Version']} read")
        states = self.scope(data, top=True, path=())
        head: dict[str, Any] = {
            "name": START,
            "type": "pass",
            "description": "Step Functions data: the ASL state value lives under 'value'.",
            "output": '{"value": $context.Execution.Input}',
            "next": states[0]["name"],
        }
        body = [head, *states]
        if self.needs_end:
            body.append({"name": END, "type": "succeed", "output": "value"})
        definition: dict[str, Any] = {"name": self.name, "version": self.version}
        comment = data.get("Comment")
        definition["description"] = (
            f"Migrated from AWS Step Functions: {comment}"
            if isinstance(comment, str)
            else "Migrated from AWS Step Functions."
        )
        if self.functions:
            definition["functions"] = dict(sorted(self.functions.items()))
        definition["states"] = body
        header = (
            "# Generated by `nexus migrate stepfunctions` from "
            f"{self.doc.file}.\n# Edit the targets under 'functions:' to point at your "
            "implementations.\n"
        )
        return Conversion(header + _dump(definition), self.report, sorted(self.user_functions))

    def scope(self, scope: dict[str, Any], *, top: bool, path: tuple[Any, ...]) -> list[Any]:
        """Convert a scope (``StartAt`` + ``States``): each reachable state, in order."""
        states: dict[str, Any] = dict(scope["States"])
        query_language = scope.get("QueryLanguage")
        if states.get("QueryLanguage") in ("JSONata", "JSONPath"):
            query_language = states.pop("QueryLanguage")
            self.approx(
                "",
                f"'QueryLanguage: {query_language}' written inside 'States' is read "
                "as the QueryLanguage of that scope",
            )
        scope_jsonata = None if query_language is None else query_language == "JSONata"
        reachable = _reachable(states, scope["StartAt"])
        for asl_name in states:
            if asl_name not in reachable:
                self.approx(
                    asl_name,
                    "never reached (no Next, Default or Catch leads to it): "
                    "left out, as NEXUS refuses unreachable states",
                )
        order = [scope["StartAt"]] + [n for n in states if n != scope["StartAt"] and n in reachable]
        names: dict[str, str] = {}
        for asl_name in order:
            names[asl_name] = self.unique(asl_name)
            if names[asl_name] != asl_name:
                self.approx(
                    asl_name,
                    f"renamed to '{names[asl_name]}': NEXUS state names are "
                    "unique across the whole definition",
                )
        out: list[Any] = []
        for asl_name in order:
            state = states[asl_name]
            ctx = StateContext(
                self,
                asl_name,
                names[asl_name],
                state,
                names,
                top,
                path + ("States", asl_name),
                scope_jsonata,
            )
            try:
                out.extend(convert_state(ctx))
            except PathError as exc:
                raise self.doc.error(
                    path + ("States", asl_name), str(exc), state=asl_name, code=Code.ASL_EXPRESSION
                ) from None
        return out


def convert_state(ctx: StateContext) -> list[dict[str, Any]]:
    """One ASL state → its NEXUS states (its own, then its helpers) through ``CONVERTERS``."""
    main = CONVERTERS[ctx.state["Type"]](ctx)
    for unknown in ("Credentials",):
        if unknown in ctx.state:
            ctx.approx(f"'{unknown}' is ignored: the worker's credentials are used")
    if ctx.jsonata:
        text = json.dumps(ctx.state)
        for fn, note in REWRITTEN.items():
            if re.search(r"\$" + fn + r"\s*\(", text):
                ctx.approx(note)
    return [*main, *ctx.extra]


def _reachable(states: dict[str, Any], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or not isinstance(states.get(name), dict):
            continue
        seen.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [r.get("Next") for r in state.get("Choices") or [] if isinstance(r, dict)]
        targets += [c.get("Next") for c in state.get("Catch") or [] if isinstance(c, dict)]
        todo.extend(t for t in targets if isinstance(t, str))
    return seen
