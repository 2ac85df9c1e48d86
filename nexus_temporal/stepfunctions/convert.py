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
from dataclasses import dataclass
from typing import Any

import yaml

from nexus_temporal.dsl.errors import DefinitionIssue, did_you_mean
from nexus_temporal.stepfunctions.load import AslDocument, AslError, load_data, load_text
from nexus_temporal.stepfunctions.paths import (
    MISSING,
    Env,
    PathError,
    input_path_expr,
    output_path_expr,
    result_path_expr,
    template,
)
from nexus_temporal.stepfunctions.report import ReportItem

STATE_TYPES = ("Task", "Choice", "Parallel", "Map", "Pass", "Wait", "Succeed", "Fail")
START = "(start)"
END = "(end)"
#: ASL error names → the NEXUS error types they match in ``catch``.
ERROR_TYPES: dict[str, list[str]] = {
    "States.ALL": ["*"],
    "States.TaskFailed": ["*"],
    "States.BranchFailed": ["*"],
    "States.Timeout": ["Timeout"],
    "States.HeartbeatTimeout": ["Timeout"],
    "States.Runtime": ["ExpressionError"],
    "States.ParameterPathFailure": ["ExpressionError"],
    "States.ResultPathMatchFailure": ["ExpressionError"],
    "States.IntrinsicFailure": ["ExpressionError"],
    "States.QueryEvaluationError": ["ExpressionError"],
    "States.ExceedToleratedFailureThreshold": ["MapToleranceExceeded"],
    "States.DataLimitExceeded": ["PayloadTooLarge"],
    "States.ItemReaderFailed": ["ItemSourceNotFound", "InvalidItemSource"],
}
_KEY = re.compile(r"[^A-Za-z0-9_-]")
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
_LAMBDA_ARN = re.compile(
    r"^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:(?P<name>[^:]+)(:(?P<qualifier>[^:]+))?$"
)
_SERVICE = re.compile(r"^arn:aws[\w-]*:states:::(?P<service>.+)$")
_ACTIVITY = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:activity:(?P<name>.+)$")
_STATE_MACHINE = re.compile(r"^arn:aws[\w-]*:states:[^:]*:[^:]*:stateMachine:(?P<name>[^:]+)")
#: What a Catch hands on: ASL's ``{"Error", "Cause"}`` of the caught NEXUS error object.
ERROR_OUTPUT = '{"Error": $states_error($data.error.type), "Cause": $states_cause($data.error)}'


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
    return _Converter(doc, name, str(version)).run()


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


def _seconds(value: Any) -> str:
    return f"{value}s"


class _Converter:
    def __init__(self, doc: AslDocument, name: str, version: str) -> None:
        self.doc = doc
        self.name = name
        self.version = version
        self.report: list[ReportItem] = []
        self.functions: dict[str, Any] = {}
        self.user_functions: list[str] = []
        self.used: set[str] = set()
        self.machine_jsonata = doc.data.get("QueryLanguage") == "JSONata"
        self.variables: set[str] = set()
        self.needs_end = False

    # -- reporting ---------------------------------------------------------------------------

    def ok(self, state: str, message: str) -> None:
        self.report.append(ReportItem(state, "converted", message))

    def approx(self, state: str, message: str) -> None:
        self.report.append(ReportItem(state, "approximated", message))

    def unsupported(self, state: str, message: str) -> None:
        self.report.append(ReportItem(state, "unsupported", message))

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
        code: str = "asl",
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
                code="missing-field",
            )
            return
        start = scope.get("StartAt")
        if not isinstance(start, str):
            self._issue(
                issues, path + ("StartAt",), "'StartAt' must name a state", code="missing-field"
            )
        elif start not in states:
            self._issue(
                issues,
                path + ("StartAt",),
                f"'StartAt' names unknown state '{start}'",
                hint=did_you_mean(start, states),
                code="unknown-state",
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
                    code="missing-field",
                )
            if kind == "Choice":
                rules = state.get("Choices")
                if not isinstance(rules, list) or not rules:
                    self._issue(
                        issues,
                        here + ("Choices",),
                        "'Choices' must be a non-empty list",
                        name,
                        code="missing-field",
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
                        code="missing-field",
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
                        code="missing-field",
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

    def unique(self, name: str) -> str:
        candidate, n = name, 2
        while candidate in self.used:
            candidate = f"{name} ({n})"
            n += 1
        self.used.add(candidate)
        return candidate

    def scope(self, scope: dict[str, Any], *, top: bool, path: tuple[Any, ...]) -> list[Any]:
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
            ctx = _StateCtx(
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
                out.extend(ctx.convert())
            except PathError as exc:
                raise self.doc.error(
                    path + ("States", asl_name), str(exc), state=asl_name, code="asl-expression"
                ) from None
        return out

    def function(self, key: str, target: Any, *, user: bool) -> str:
        key = _KEY.sub("_", key) or "function"
        base, n = key, 2
        while key in self.functions and self.functions[key] != target:
            key = f"{base}_{n}"
            n += 1
        self.functions[key] = target
        if user and key not in self.user_functions:
            self.user_functions.append(key)
        return key


class _StateCtx:
    """Converts one ASL state into one or more NEXUS states."""

    def __init__(
        self,
        conv: _Converter,
        asl_name: str,
        name: str,
        state: dict[str, Any],
        names: dict[str, str],
        top: bool,
        path: tuple[Any, ...],
        scope_jsonata: bool | None = None,
    ) -> None:
        self.c = conv
        self.asl = asl_name
        self.name = name
        self.s = state
        self.names = names
        self.top = top
        self.path = path
        ql = state.get("QueryLanguage")
        default = conv.machine_jsonata if scope_jsonata is None else scope_jsonata
        self.jsonata = ql == "JSONata" if ql else default
        self.env = Env(state=asl_name, variables=conv.variables)
        self.extra: list[dict[str, Any]] = []

    # helpers ---------------------------------------------------------------------------------

    def next_name(self) -> str | None:
        if "Next" in self.s:
            return self.names[self.s["Next"]]
        if self.top:
            self.c.needs_end = True
            return END
        return None

    def target_name(self, asl: str) -> str:
        return self.names[asl]

    def helper(self, role: str) -> str:
        return self.c.unique(f"{self.name} ({role})")

    def get(self, key: str) -> Any:
        return self.s.get(key, MISSING)

    def jsonata_expr(self, value: Any, **states: str) -> str:
        from nexus_temporal.stepfunctions.jsonata_mode import default_states, jsonata_value

        return jsonata_value(value, self.env, default_states(self.env, **states))

    def effective_input(self) -> str:
        """InputPath applied to the raw input (JSONPath mode)."""
        return input_path_expr(self.get("InputPath"), "$data.value")

    def parameters(self, eff: str, key: str = "Parameters") -> str:
        if key in self.s:
            return template(self.s[key], self.env.at(eff))
        return eff

    def value_after(self, result: str, raw: str = "$data.value") -> str:
        """The state output: ResultPath then OutputPath (JSONPath), or ``Output`` (JSONata)."""
        if self.jsonata:
            if "Output" in self.s:
                return self.jsonata_expr(self.s["Output"], input=raw, result=result)
            return result
        merged = result_path_expr(self.get("ResultPath"), raw, result)
        return output_path_expr(self.get("OutputPath"), merged)

    def vars_after(self, result: str, raw: str = "$data.value") -> str | None:
        assign = self.s.get("Assign")
        if not isinstance(assign, dict) or not assign:
            return None
        if self.jsonata:
            body = self.jsonata_expr(assign, input=raw, result=result)
        else:
            body = template(assign, self.env.at(result))
        return f"$merge([$data.vars, {body}])"

    def assign_block(self, result: str, raw: str = "$data.value") -> dict[str, Any]:
        """``assign`` of a state whose ``$`` is its result (``$res`` in ``result``)."""
        out: dict[str, Any] = {"value": bind_res(self.value_after(result, raw))}
        v = self.vars_after(result, raw)
        if v:
            out["vars"] = bind_res(v)
        return out

    # catch and retry ---------------------------------------------------------------------------

    def catch_rules(self, raw: str = "$data.value") -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        timeout_seen = False
        for i, catcher in enumerate(self.s.get("Catch") or [], start=1):
            errors = self.error_types(catcher.get("ErrorEquals") or [], timeout_seen, "Catch")
            timeout_seen = timeout_seen or "Timeout" in errors
            pass_name = self.helper(f"catch {i}")
            rules.append({"errors": errors, "next": pass_name})
            self.extra.append(self.catch_pass(pass_name, catcher, raw))
        return rules

    def error_types(self, names: list[str], timeout_seen: bool, where: str) -> list[str]:
        out: list[str] = []
        for n in names:
            mapped = ERROR_TYPES.get(n, [n])
            if n == "States.TaskFailed" and not timeout_seen:
                self.c.approx(
                    self.asl,
                    f"{where} States.TaskFailed also matches timeouts here "
                    "(NEXUS matches '*'); list States.Timeout before it to separate "
                    "them",
                )
            if n in ("States.Permissions", "States.ResultWriterFailed"):
                self.c.approx(self.asl, f"{where} {n} is never raised by NEXUS")
            for m in mapped:
                if m not in out:
                    out.append(m)
        return ["*"] if "*" in out else out

    def catch_pass(self, name: str, catcher: dict[str, Any], raw: str) -> dict[str, Any]:
        error_output = ERROR_OUTPUT
        if self.jsonata:
            states = {"input": raw, "errorOutput": error_output}
            value = (
                self.jsonata_expr(catcher["Output"], **states)
                if "Output" in catcher
                else error_output
            )
            assign = catcher.get("Assign")
            vars_ = (
                f"$merge([$data.vars, {self.jsonata_expr(assign, **states)}])"
                if isinstance(assign, dict) and assign
                else "$data.vars"
            )
        else:
            value = result_path_expr(catcher.get("ResultPath", MISSING), raw, error_output)
            assign = catcher.get("Assign")
            vars_ = (
                f"$merge([$data.vars, {template(assign, self.env.at(error_output))}])"
                if isinstance(assign, dict) and assign
                else "$data.vars"
            )
        return {
            "name": name,
            "type": "pass",
            "description": f"Catch of '{self.asl}' for {', '.join(catcher.get('ErrorEquals', []))}",
            "output": f'{{"value": {value}, "vars": {vars_}}}',
            "next": self.target_name(catcher["Next"]),
        }

    def retry(self) -> dict[str, Any]:
        """ASL Retry → one NEXUS retry policy; ``retry_on`` keeps "only these errors"."""
        retriers = [r for r in self.s.get("Retry") or [] if isinstance(r, dict)]
        if not retriers:
            return {"max_attempts": 1}
        non_retryable: list[str] = []
        active: list[dict[str, Any]] = []
        for r in retriers:
            names = r.get("ErrorEquals") or []
            if r.get("MaxAttempts", 3) == 0:
                if not active:
                    non_retryable.extend(
                        m for n in names for m in ERROR_TYPES.get(n, [n]) if m != "*"
                    )
                continue
            active.append(r)
        if not active:
            return {"max_attempts": 1}
        chosen = active[0]
        params = (
            "IntervalSeconds",
            "MaxAttempts",
            "BackoffRate",
            "MaxDelaySeconds",
            "JitterStrategy",
        )
        if any(any(r.get(k) != chosen.get(k) for k in params) for r in active[1:]):
            self.c.approx(
                self.asl,
                "several Retry rules with different settings: NEXUS has "
                "one retry policy per task; every listed error is retried with the "
                f"settings of the rule for {chosen.get('ErrorEquals')}",
            )
        retry_on: list[str] = []
        for r in active:
            for n in r.get("ErrorEquals") or []:
                for m in ERROR_TYPES.get(n, [n]):
                    if m not in retry_on:
                        retry_on.append(m)
        spec: dict[str, Any] = {
            "max_attempts": int(chosen.get("MaxAttempts", 3)) + 1,
            "initial_interval": _seconds(chosen.get("IntervalSeconds", 1)),
            "backoff_coefficient": float(chosen.get("BackoffRate", 2.0)),
            "maximum_interval": (
                _seconds(chosen["MaxDelaySeconds"]) if "MaxDelaySeconds" in chosen else None
            ),
        }
        if chosen.get("JitterStrategy") == "FULL":
            spec["jitter"] = "full"
            self.c.ok(self.asl, "JitterStrategy FULL → retry jitter: full")
        non_retryable = [n for n in dict.fromkeys(non_retryable) if n not in ("*",)]
        if non_retryable:
            spec["non_retryable"] = non_retryable
        if "*" not in retry_on:
            spec["retry_on"] = retry_on
        return spec

    def timeouts(self, out: dict[str, Any], *, heartbeat_ok: bool = False) -> None:
        if isinstance(self.s.get("TimeoutSeconds"), (int, float)):
            out["timeout"] = _seconds(self.s["TimeoutSeconds"])
        elif "TimeoutSeconds" in self.s or "TimeoutSecondsPath" in self.s:
            self.c.approx(
                self.asl,
                "a dynamic timeout (TimeoutSecondsPath or an expression) is "
                "not carried: NEXUS timeouts are static; set 'timeout' on the state",
            )
        beat = self.s.get("HeartbeatSeconds")
        if heartbeat_ok and isinstance(beat, (int, float)) and not isinstance(beat, bool):
            # An activity worker heartbeats (SendTaskHeartbeat): the Temporal activity that
            # stands for it gets the same heartbeat timeout (activity.heartbeat()).
            out["heartbeat"] = _seconds(beat)
            self.c.ok(self.asl, f"HeartbeatSeconds → heartbeat: {_seconds(beat)}")
        elif "HeartbeatSeconds" in self.s or "HeartbeatSecondsPath" in self.s:
            self.c.approx(
                self.asl,
                "HeartbeatSeconds is dropped: NEXUS functions do not send "
                "heartbeats; the task's timeout still bounds each attempt",
            )

    # per type --------------------------------------------------------------------------------

    def convert(self) -> list[dict[str, Any]]:
        kind = self.s["Type"]
        main = getattr(self, f"convert_{kind.lower()}")()
        for unknown in ("Credentials",):
            if unknown in self.s:
                self.c.approx(
                    self.asl, f"'{unknown}' is ignored: the worker's credentials are used"
                )
        if self.jsonata:
            from nexus_temporal.stepfunctions.jsonata_mode import REWRITTEN

            text = json.dumps(self.s)
            for fn, note in REWRITTEN.items():
                if re.search(r"\$" + fn + r"\s*\(", text):
                    self.c.approx(self.asl, note)
        return [*main, *self.extra]

    def convert_pass(self) -> list[dict[str, Any]]:
        if self.jsonata:
            value = self.value_after("$data.value")
            vars_ = self.vars_after("$data.value")
        else:
            eff = self.effective_input()
            if "Parameters" in self.s:
                payload = self.parameters(eff)
            elif "Result" in self.s:
                from nexus_temporal.stepfunctions.paths import literal

                payload = literal(self.s["Result"])
            else:
                payload = eff
            value = self.value_after(payload)
            vars_ = self.vars_after(payload)
        assign: dict[str, Any] = {"value": value}
        if vars_:
            assign["vars"] = vars_
        out: dict[str, Any] = {"name": self.name, "type": "pass", "assign": assign}
        self._next(out)
        self.c.ok(self.asl, "Pass → pass")
        return [out]

    def _next(self, out: dict[str, Any]) -> None:
        nxt = self.next_name()
        if nxt is not None:
            out["next"] = nxt

    def convert_succeed(self) -> list[dict[str, Any]]:
        if self.jsonata:
            value = self.jsonata_expr(self.s["Output"]) if "Output" in self.s else "$data.value"
        else:
            value = output_path_expr(self.get("OutputPath"), self.effective_input())
        out: dict[str, Any] = {"name": self.name, "type": "succeed"}
        if self.top:
            out["output"] = "value" if value == "$data.value" else value
        elif value != "$data.value":
            out["output"] = f'{{"value": {value}, "vars": $data.vars}}'
        self.c.ok(self.asl, "Succeed → succeed")
        return [out]

    def convert_fail(self) -> list[dict[str, Any]]:
        from nexus_temporal.stepfunctions.jsonata_mode import is_expression
        from nexus_temporal.stepfunctions.paths import reference

        out: dict[str, Any] = {"name": self.name, "type": "fail"}
        dynamic: list[str] = []
        for key, fixed, computed in (
            ("Error", "error", "error_expr"),
            ("Cause", "message", "message_expr"),
        ):
            value = self.s.get(key)
            if self.jsonata and is_expression(value):
                out[computed] = self.jsonata_expr(value)
                dynamic.append(key)
            elif isinstance(value, str):
                out[fixed] = value
            elif not self.jsonata and isinstance(self.s.get(f"{key}Path"), str):
                out[computed] = reference(self.s[f"{key}Path"], self.env)
                dynamic.append(f"{key}Path")
        if dynamic:
            self.c.ok(self.asl, f"Fail → fail with {', '.join(dynamic)} computed at run time")
        else:
            self.c.ok(self.asl, "Fail → fail")
        return [out]

    def convert_wait(self) -> list[dict[str, Any]]:
        out: dict[str, Any] = {"name": self.name, "type": "wait"}
        eff = "$data.value" if self.jsonata else self.effective_input()
        env = self.env.at(eff)
        if "Seconds" in self.s:
            sec = self.s["Seconds"]
            if isinstance(sec, (int, float)):
                out["duration"] = _seconds(sec)
            else:
                out["until"] = (
                    "$fromMillis($toMillis($context.State.EnteredTime) + "
                    f"({self.jsonata_expr(sec)}) * 1000)"
                )
        elif "SecondsPath" in self.s:
            from nexus_temporal.stepfunctions.paths import reference

            seconds = reference(self.s["SecondsPath"], env)
            out["until"] = (
                f"$fromMillis($toMillis($context.State.EnteredTime) + ({seconds}) * 1000)"
            )
        elif "Timestamp" in self.s:
            ts = self.s["Timestamp"]
            out["until"] = self.jsonata_expr(ts) if self.jsonata else json.dumps(ts)
        elif "TimestampPath" in self.s:
            from nexus_temporal.stepfunctions.paths import reference

            out["until"] = reference(self.s["TimestampPath"], env)
        else:
            raise PathError("a Wait state needs Seconds, SecondsPath, Timestamp or TimestampPath")
        shaped = (
            ("Output" in self.s or "Assign" in self.s)
            if self.jsonata
            else ("InputPath" in self.s or "OutputPath" in self.s or "Assign" in self.s)
        )
        if shaped:
            after = self.helper("output")
            if self.jsonata:
                value = self.value_after("$data.value")
                vars_ = self.vars_after("$data.value")
            else:
                value = output_path_expr(self.get("OutputPath"), eff)
                vars_ = self.vars_after(eff)
            assign: dict[str, Any] = {"value": value}
            if vars_:
                assign["vars"] = vars_
            post: dict[str, Any] = {"name": after, "type": "pass", "assign": assign}
            self._next(post)
            out["next"] = after
            self.c.ok(self.asl, "Wait → wait, then a pass for its InputPath/OutputPath")
            return [out, post]
        self._next(out)
        self.c.ok(self.asl, "Wait → wait")
        return [out]

    def convert_choice(self) -> list[dict[str, Any]]:
        from nexus_temporal.stepfunctions.choice import condition, invalid, paths_read

        pre: list[dict[str, Any]] = []
        base = "$data.value"
        choice_name = self.name
        if not self.jsonata and ("InputPath" in self.s or "OutputPath" in self.s):
            eff = self.effective_input()
            choice_name = self.helper("choice")
            pre.append(
                {
                    "name": self.name,
                    "type": "pass",
                    "assign": {
                        "choice_input": eff,
                        "value": output_path_expr(self.get("OutputPath"), eff),
                    },
                    "next": choice_name,
                }
            )
            base = "$data.choice_input"
        env = self.env.at(base)
        rules = []
        invalid_path: str | None = None
        for i, rule in enumerate(self.s["Choices"], start=1):
            target = self.target_name(rule["Next"])
            if "Assign" in rule or "Output" in rule:
                target = self._choice_effects(f"rule {i}", rule, target, base)
            bad = invalid(rule, env)
            if bad is not None:
                if invalid_path is None:
                    invalid_path = self.helper("invalid path")
                rules.append({"when": bad, "next": invalid_path})
            rules.append({"when": condition(rule, env), "next": target})
        if invalid_path is not None:
            read = dict.fromkeys(p for r in self.s["Choices"] for p in paths_read(r))
            self.extra.append(
                {
                    "name": invalid_path,
                    "type": "fail",
                    "error": "States.Runtime",
                    "message": f"Invalid path: a choice rule of '{self.asl}' reads a path "
                    f"that is not in its input (one of {', '.join(read)})",
                }
            )
        out: dict[str, Any] = {
            "name": choice_name if pre else self.name,
            "type": "choice",
            "choices": rules,
        }
        if "Default" in self.s:
            out["default"] = self.target_name(self.s["Default"])
            if "Assign" in self.s or "Output" in self.s:
                out["default"] = self._choice_effects("default", self.s, out["default"], base)
        else:
            nomatch = self.helper("no match")
            out["default"] = nomatch
            self.extra.append(
                {
                    "name": nomatch,
                    "type": "fail",
                    "error": "States.NoChoiceMatched",
                    "message": f"no choice rule of '{self.asl}' matched and it has no Default",
                }
            )
        self.c.ok(self.asl, f"Choice → choice with {len(self.s['Choices'])} rule(s)")
        if pre:
            return [*pre, out]
        return [out]

    def _choice_effects(self, role: str, where: dict[str, Any], target: str, base: str) -> str:
        """A pass on the way from a choice to ``target`` carrying a rule's (or the Default's)
        Assign and Output; returns its name."""
        name = self.helper(role)
        assign: dict[str, Any] = {}
        if self.jsonata:
            if "Output" in where:
                assign["value"] = self.jsonata_expr(where["Output"])
            if isinstance(where.get("Assign"), dict) and where["Assign"]:
                assign["vars"] = f"$merge([$data.vars, {self.jsonata_expr(where['Assign'])}])"
        elif isinstance(where.get("Assign"), dict) and where["Assign"]:
            body = template(where["Assign"], self.env.at(base))
            assign["vars"] = f"$merge([$data.vars, {body}])"
        self.extra.append({"name": name, "type": "pass", "assign": assign, "next": target})
        return name

    def convert_parallel(self) -> list[dict[str, Any]]:
        pre: list[dict[str, Any]] = []
        raw = "$data.value"
        main_name = self.name
        needs_input = (
            "Arguments" in self.s
            if self.jsonata
            else ("InputPath" in self.s or "Parameters" in self.s)
        )
        if needs_input:
            eff = (
                self.jsonata_expr(self.s["Arguments"])
                if self.jsonata
                else self.parameters(self.effective_input())
            )
            main_name = self.helper("branches")
            pre.append(
                {
                    "name": self.name,
                    "type": "pass",
                    "assign": {"value": eff, "raw": "$data.value"},
                    "next": main_name,
                }
            )
            raw = "$data.raw"
        branches = []
        keys = []
        for i, branch in enumerate(self.s["Branches"]):
            key = f"branch{i + 1}"
            keys.append(key)
            states = self.c.scope(branch, top=False, path=self.path + ("Branches", i))
            branches.append({"name": key, "states": states})
        collected = f'$states_values($, {json.dumps(keys)}, "value")'
        out: dict[str, Any] = {
            "name": main_name if pre else self.name,
            "type": "parallel",
            "branches": branches,
            "output": bind_res(self._sel_of(collected)),
            "assign": self.assign_block("$res", raw),
        }
        catch = self.catch_rules(raw)
        if self.top and not any(rule["errors"] == ["*"] for rule in catch):
            # An uncaught branch failure fails the execution with the branch's own cause, as
            # in Step Functions (the parallel state's message names the branch).
            rethrow = self.helper("failed")
            catch.append({"errors": ["*"], "next": rethrow})
            self.extra.append(
                {
                    "name": rethrow,
                    "type": "fail",
                    "description": f"An uncaught failure of '{self.asl}', with the branch's "
                    "own error type and message.",
                    "error_expr": "$data.error.type",
                    "message_expr": "$exists($data.error.cause) ? $data.error.cause : "
                    "$data.error.message",
                }
            )
        if catch:
            out["catch"] = catch
        if self.s.get("Retry"):
            self.c.approx(
                self.asl,
                "Retry on a Parallel state is not carried (NEXUS retries "
                "actions, not branches); add retries to the branch tasks",
            )
        self._next(out)
        self.c.ok(self.asl, f"Parallel → parallel with {len(branches)} branch(es)")
        return [*pre, out]

    def apply_result(self, out: dict[str, Any], result: str) -> None:
        """The result half of the pipeline of a state that produces ``result`` (JSONata over
        ``$res``): ResultSelector as ``output``, ResultPath/Assign as ``assign``, Catch."""
        output = self._sel_of(result)
        if output != "$res":
            out["output"] = bind_res(output)
        out["assign"] = self.assign_block("$res")
        catch = self.catch_rules()
        if catch:
            out["catch"] = catch

    def _sel_of(self, result: str) -> str:
        """ResultSelector over ``result`` (JSONPath mode)."""
        if not self.jsonata and "ResultSelector" in self.s:
            sel = template(self.s["ResultSelector"], self.env.at("$r"))
            return sel if result == "$r" else f"($r := {result}; {sel})"
        return result

    def convert_map(self) -> list[dict[str, Any]]:
        from nexus_temporal.stepfunctions.mapstate import convert_map

        return convert_map(self)

    def convert_task(self) -> list[dict[str, Any]]:
        from nexus_temporal.stepfunctions.tasks import convert_task

        return convert_task(self)


def _placeholder_name(text: str) -> str | None:
    m = _PLACEHOLDER.fullmatch(text.strip())
    return m.group(1) if m else None


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


def bind_res(expr: str) -> str:
    """Bind ``$res`` to ``$`` (the state's result) where an expression uses it: JSONata would
    unwrap a one-item array ``$`` inside nested object constructors, a variable it keeps."""
    return f"($res := $; {expr})" if "$res" in expr else expr
