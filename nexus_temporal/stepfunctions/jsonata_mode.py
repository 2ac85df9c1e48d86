"""JSONata-mode ASL (``QueryLanguage: JSONata``): ``{% expr %}`` strings → NEXUS JSONata with the
``$states`` object (input, result, errorOutput, context) and ``$variables`` bound."""

from __future__ import annotations

import json
import re
from typing import Any

from nexus_temporal.stepfunctions.paths import Env, literal

_EXPR = re.compile(r"^\s*\{%(.*)%\}\s*$", re.DOTALL)
_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and _EXPR.match(value) is not None


def jsonata_value(value: Any, env: Env, states: str | None = None) -> str:
    """A JSONata-mode field value (an expression string, or JSON whose strings may be
    expressions) as one NEXUS expression. ``states`` is the JSONata for ``$states``."""
    body = _build(value, env)
    return wrap(body, env, states)


#: Step Functions' own JSONata functions, and the clock/random ones made deterministic.
_RENAMES = {
    "partition": "states_array_partition",
    "range": "states_array_range",
    "hash": "states_hash",
    "parse": "states_string_to_json",
}
_FUNCTION = re.compile(r"\$(now|millis|random|uuid|partition|range|hash|parse)\s*\(\s*(\))?")
#: What ``_FUNCTION`` rewrites, for the report.
REWRITTEN = {
    "now": "$now() is the time the state was entered ($context.State.EnteredTime)",
    "millis": "$millis() is the time the state was entered, in ms",
    "random": "$random() is seeded from the workflow id, state and visit (deterministic)",
    "uuid": "$uuid() is derived from the workflow id, state and visit (deterministic)",
}


def rewrite_functions(body: str, env: Env) -> str:
    """Step Functions JSONata functions → NEXUS ones; ``$now()``/``$millis()`` read the state's
    entry time, ``$random()``/``$uuid()`` a deterministic seed."""
    from nexus_temporal.stepfunctions.paths import seed

    def sub(m: re.Match[str]) -> str:
        name, empty = m.group(1), m.group(2) is not None
        if name == "now" and empty:
            return "$context.State.EnteredTime"
        if name == "millis" and empty:
            return "$toMillis($context.State.EnteredTime)"
        if name == "uuid" and empty:
            return f"$states_uuid({seed(env)})"
        if name == "random":
            return f"$states_random({seed(env)})" if empty else "$states_random("
        if name in _RENAMES:
            return f"${_RENAMES[name]}(" + (")" if empty else "")
        return m.group(0)

    return _FUNCTION.sub(sub, body)


def _build(value: Any, env: Env) -> str:
    if isinstance(value, str):
        m = _EXPR.match(value)
        if not m:
            return json.dumps(value, ensure_ascii=False)
        return f"({rewrite_functions(m.group(1).strip(), env)})"
    if isinstance(value, dict):
        parts = (f"{json.dumps(k)}: {_build(v, env)}" for k, v in value.items())
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list, str)) for v in value):
            return json.dumps(value)
        return "[" + ", ".join(_build(v, env) for v in value) + "]"
    return literal(value)


def wrap(body: str, env: Env, states: str | None = None) -> str:
    """Bind ``$states`` and the machine's variables that ``body`` uses."""
    binds: list[str] = []
    if re.search(r"\$states\b(?!_)", body):
        binds.append(f"$states := {states or default_states(env)}")
    for name in sorted(set(_VAR.findall(body)) & env.variables):
        binds.append(f"${name} := $data.vars.{name}")
    if not binds:
        return body
    return "(" + "; ".join(binds) + "; " + body + ")"


def default_states(env: Env, **extra: str) -> str:
    parts = {"input": "$data.value", "context": "$context", **extra}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in parts.items()) + "}"
