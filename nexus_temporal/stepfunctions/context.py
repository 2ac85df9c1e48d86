"""The shared context of the Step Functions converter: what one state machine's conversion
carries across its states (:class:`MachineContext`: report, functions, state names, variables)
and what converting one ASL state needs (:class:`StateContext`: the state, its names, the
JSONPath/JSONata pipeline InputPath → Parameters → ResultSelector → ResultPath → OutputPath,
Assign, Retry, Catch and timeouts, and the report hooks).

The converters in ``states/<type>.py`` (one per ASL ``Type``) build NEXUS states through a
:class:`StateContext`; ``convert.py`` drives them. See ``convert.py`` for the data model.
"""

from __future__ import annotations

import re
from typing import Any

from nexus_temporal.stepfunctions.jsonata_mode import default_states, jsonata_value
from nexus_temporal.stepfunctions.paths import (
    MISSING,
    Env,
    input_path_expr,
    output_path_expr,
    result_path_expr,
    template,
)
from nexus_temporal.stepfunctions.report import ReportItem

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
#: What a Catch hands on: ASL's ``{"Error", "Cause"}`` of the caught NEXUS error object.
ERROR_OUTPUT = '{"Error": $states_error($data.error.type), "Cause": $states_cause($data.error)}'
_KEY = re.compile(r"[^A-Za-z0-9_-]")


def seconds(value: Any) -> str:
    """An ASL number of seconds as a NEXUS duration."""
    return f"{value}s"


def bind_res(expr: str) -> str:
    """Bind ``$res`` to ``$`` (the state's result) where an expression uses it: JSONata would
    unwrap a one-item array ``$`` inside nested object constructors, a variable it keeps."""
    return f"($res := $; {expr})" if "$res" in expr else expr


class MachineContext:
    """What the conversion of one state machine shares across its states and scopes."""

    def __init__(self, *, machine_jsonata: bool) -> None:
        self.report: list[ReportItem] = []
        self.functions: dict[str, Any] = {}
        self.user_functions: list[str] = []
        self.used: set[str] = set()
        self.machine_jsonata = machine_jsonata
        self.variables: set[str] = set()
        self.needs_end = False

    # -- report hooks ---------------------------------------------------------------------------

    def ok(self, state: str, message: str) -> None:
        """Report ``state`` (an ASL name, "" for the machine) as converted."""
        self.report.append(ReportItem(state, "converted", message))

    def approx(self, state: str, message: str) -> None:
        """Report an approximation for ``state``."""
        self.report.append(ReportItem(state, "approximated", message))

    def unsupported(self, state: str, message: str) -> None:
        """Report what of ``state`` has no NEXUS equivalent."""
        self.report.append(ReportItem(state, "unsupported", message))

    # -- names and functions --------------------------------------------------------------------

    def unique(self, name: str) -> str:
        """``name``, or ``name (2)``, ``name (3)``...: NEXUS state names are definition-wide."""
        candidate, n = name, 2
        while candidate in self.used:
            candidate = f"{name} ({n})"
            n += 1
        self.used.add(candidate)
        return candidate

    def function(self, key: str, target: Any, *, user: bool) -> str:
        """Declare a ``functions:`` entry (``user``: one the user must supply); its key."""
        key = _KEY.sub("_", key) or "function"
        base, n = key, 2
        while key in self.functions and self.functions[key] != target:
            key = f"{base}_{n}"
            n += 1
        self.functions[key] = target
        if user and key not in self.user_functions:
            self.user_functions.append(key)
        return key

    def scope(self, scope: dict[str, Any], *, top: bool, path: tuple[Any, ...]) -> list[Any]:
        """Convert a scope (``StartAt`` + ``States``): the driver in ``convert.py``."""
        raise NotImplementedError


class StateContext:
    """Converts one ASL state into one or more NEXUS states.

    Attributes:
        machine: the :class:`MachineContext` of the whole conversion.
        asl_name: the ASL state name (what the report names).
        name: the NEXUS state name (``asl_name``, made unique).
        state: the ASL state object.
        names: ASL → NEXUS state names of the enclosing scope.
        top: whether the state is in the machine's top scope (not a branch or item processor).
        path: the key path of the state in the ASL document (for located errors).
        jsonata: whether the state's QueryLanguage is JSONata.
        env: what ASL paths mean in the state's expressions.
        extra: helper states the converter adds after the state's own.
    """

    def __init__(
        self,
        machine: MachineContext,
        asl_name: str,
        name: str,
        state: dict[str, Any],
        names: dict[str, str],
        top: bool,
        path: tuple[Any, ...],
        scope_jsonata: bool | None = None,
    ) -> None:
        self.machine = machine
        self.asl_name = asl_name
        self.name = name
        self.state = state
        self.names = names
        self.top = top
        self.path = path
        ql = state.get("QueryLanguage")
        default = machine.machine_jsonata if scope_jsonata is None else scope_jsonata
        self.jsonata = ql == "JSONata" if ql else default
        self.env = Env(state=asl_name, variables=machine.variables)
        self.extra: list[dict[str, Any]] = []

    # -- report hooks ---------------------------------------------------------------------------

    def ok(self, message: str) -> None:
        """Report this state (or a part of it) as converted."""
        self.machine.ok(self.asl_name, message)

    def approx(self, message: str) -> None:
        """Report an approximation in this state."""
        self.machine.approx(self.asl_name, message)

    def unsupported(self, message: str) -> None:
        """Report what of this state has no NEXUS equivalent."""
        self.machine.unsupported(self.asl_name, message)

    def function(self, key: str, target: Any, *, user: bool) -> str:
        """Declare a ``functions:`` entry; its key (see :meth:`MachineContext.function`)."""
        return self.machine.function(key, target, user=user)

    def convert_scope(self, scope: dict[str, Any], *path: Any) -> list[Any]:
        """Convert a nested scope (a branch, an item processor) at ``self.path + path``."""
        return self.machine.scope(scope, top=False, path=self.path + path)

    # -- names and the result pipeline ----------------------------------------------------------

    def next_name(self) -> str | None:
        """The NEXUS name of the state after this one (``(end)`` at a top-level end), or None."""
        if "Next" in self.state:
            return self.names[self.state["Next"]]
        if self.top:
            self.machine.needs_end = True
            return END
        return None

    def set_next(self, out: dict[str, Any]) -> None:
        """Set ``next`` of ``out`` to the state after this one, if there is one."""
        nxt = self.next_name()
        if nxt is not None:
            out["next"] = nxt

    def target_name(self, asl: str) -> str:
        """The NEXUS name of the ASL state ``asl`` of this scope."""
        return self.names[asl]

    def helper(self, role: str) -> str:
        """A unique name ``<state> (<role>)`` for a helper state."""
        return self.machine.unique(f"{self.name} ({role})")

    def get(self, key: str) -> Any:
        """A field of the ASL state, ``MISSING`` when absent (paths read the difference)."""
        return self.state.get(key, MISSING)

    def jsonata_expr(self, value: Any, **states: str) -> str:
        """A JSONata-mode field value as NEXUS JSONata, ``$states`` bound (``**states`` extra)."""
        return jsonata_value(value, self.env, default_states(self.env, **states))

    def effective_input(self) -> str:
        """InputPath applied to the raw input (JSONPath mode)."""
        return input_path_expr(self.get("InputPath"), "$data.value")

    def parameters(self, eff: str, key: str = "Parameters") -> str:
        """``Parameters`` (or ``key``) over the effective input ``eff``; ``eff`` without it."""
        if key in self.state:
            return template(self.state[key], self.env.at(eff))
        return eff

    def value_after(self, result: str, raw: str = "$data.value") -> str:
        """The state output: ResultPath then OutputPath (JSONPath), or ``Output`` (JSONata)."""
        if self.jsonata:
            if "Output" in self.state:
                return self.jsonata_expr(self.state["Output"], input=raw, result=result)
            return result
        merged = result_path_expr(self.get("ResultPath"), raw, result)
        return output_path_expr(self.get("OutputPath"), merged)

    def vars_after(self, result: str, raw: str = "$data.value") -> str | None:
        """The variables after the state (``Assign`` merged in), or None without Assign."""
        assign = self.state.get("Assign")
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

    def apply_result(self, out: dict[str, Any], result: str) -> None:
        """The result half of the pipeline of a state that produces ``result`` (JSONata over
        ``$res``): ResultSelector as ``output``, ResultPath/Assign as ``assign``, Catch."""
        output = self.select_result(result)
        if output != "$res":
            out["output"] = bind_res(output)
        out["assign"] = self.assign_block("$res")
        catch = self.catch_rules()
        if catch:
            out["catch"] = catch

    def select_result(self, result: str) -> str:
        """ResultSelector over ``result`` (JSONPath mode)."""
        if not self.jsonata and "ResultSelector" in self.state:
            sel = template(self.state["ResultSelector"], self.env.at("$r"))
            return sel if result == "$r" else f"($r := {result}; {sel})"
        return result

    # -- catch, retry, timeouts ----------------------------------------------------------------

    def catch_rules(self, raw: str = "$data.value") -> list[dict[str, Any]]:
        """ASL Catch → NEXUS ``catch`` rules, each through a catch pass (added to ``extra``)."""
        rules: list[dict[str, Any]] = []
        timeout_seen = False
        for i, catcher in enumerate(self.state.get("Catch") or [], start=1):
            errors = self.error_types(catcher.get("ErrorEquals") or [], timeout_seen, "Catch")
            timeout_seen = timeout_seen or "Timeout" in errors
            pass_name = self.helper(f"catch {i}")
            rules.append({"errors": errors, "next": pass_name})
            self.extra.append(self.catch_pass(pass_name, catcher, raw))
        return rules

    def error_types(self, names: list[str], timeout_seen: bool, where: str) -> list[str]:
        """ASL error names → the NEXUS error types they match (``["*"]`` for all)."""
        out: list[str] = []
        for n in names:
            mapped = ERROR_TYPES.get(n, [n])
            if n == "States.TaskFailed" and not timeout_seen:
                self.approx(
                    f"{where} States.TaskFailed also matches timeouts here "
                    "(NEXUS matches '*'); list States.Timeout before it to separate "
                    "them",
                )
            if n in ("States.Permissions", "States.ResultWriterFailed"):
                self.approx(f"{where} {n} is never raised by NEXUS")
            for m in mapped:
                if m not in out:
                    out.append(m)
        return ["*"] if "*" in out else out

    def catch_pass(self, name: str, catcher: dict[str, Any], raw: str) -> dict[str, Any]:
        """The pass a catcher leads through: its ResultPath/Output and Assign, then its Next."""
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
        errors = ", ".join(catcher.get("ErrorEquals", []))
        return {
            "name": name,
            "type": "pass",
            "description": f"Catch of '{self.asl_name}' for {errors}",
            "output": f'{{"value": {value}, "vars": {vars_}}}',
            "next": self.target_name(catcher["Next"]),
        }

    def retry(self) -> dict[str, Any]:
        """ASL Retry → one NEXUS retry policy; ``retry_on`` keeps "only these errors"."""
        retriers = [r for r in self.state.get("Retry") or [] if isinstance(r, dict)]
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
            self.approx(
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
            "initial_interval": seconds(chosen.get("IntervalSeconds", 1)),
            "backoff_coefficient": float(chosen.get("BackoffRate", 2.0)),
            "maximum_interval": (
                seconds(chosen["MaxDelaySeconds"]) if "MaxDelaySeconds" in chosen else None
            ),
        }
        if chosen.get("JitterStrategy") == "FULL":
            spec["jitter"] = "full"
            self.ok("JitterStrategy FULL → retry jitter: full")
        non_retryable = [n for n in dict.fromkeys(non_retryable) if n not in ("*",)]
        if non_retryable:
            spec["non_retryable"] = non_retryable
        if "*" not in retry_on:
            spec["retry_on"] = retry_on
        return spec

    def timeouts(self, out: dict[str, Any], *, heartbeat_ok: bool = False) -> None:
        """TimeoutSeconds/HeartbeatSeconds → ``timeout``/``heartbeat`` of ``out`` (static only)."""
        if isinstance(self.state.get("TimeoutSeconds"), (int, float)):
            out["timeout"] = seconds(self.state["TimeoutSeconds"])
        elif "TimeoutSeconds" in self.state or "TimeoutSecondsPath" in self.state:
            self.approx(
                "a dynamic timeout (TimeoutSecondsPath or an expression) is "
                "not carried: NEXUS timeouts are static; set 'timeout' on the state",
            )
        beat = self.state.get("HeartbeatSeconds")
        if heartbeat_ok and isinstance(beat, (int, float)) and not isinstance(beat, bool):
            # An activity worker heartbeats (SendTaskHeartbeat): the Temporal activity that
            # stands for it gets the same heartbeat timeout (activity.heartbeat()).
            out["heartbeat"] = seconds(beat)
            self.ok(f"HeartbeatSeconds → heartbeat: {seconds(beat)}")
        elif "HeartbeatSeconds" in self.state or "HeartbeatSecondsPath" in self.state:
            self.approx(
                "HeartbeatSeconds is dropped: NEXUS functions do not send "
                "heartbeats; the task's timeout still bounds each attempt",
            )
