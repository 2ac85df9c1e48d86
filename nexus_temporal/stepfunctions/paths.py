"""JSONPath (and ``$$`` context paths, ``$variables``, intrinsic calls) → JSONata text.

Every expression the importer writes reads the ASL state value from the NEXUS data's ``value``
key and variables from ``vars`` (see ``convert.py``); ``Env`` says what ``$`` stands for where
the expression is evaluated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from nexus_temporal.errors import NexusTemporalError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = {"and", "or", "in", "true", "false", "null", "function"}
_SIMPLE_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_$@-][A-Za-z0-9_$@-]*)
      |\[\s*(?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\]
      |\[(?P<index>\d+)\]""",
    re.VERBOSE,
)
_VARIABLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)(.*)$", re.DOTALL)
_SIMPLE_BASE = re.compile(r"^\$?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$|^\$$")


class PathError(NexusTemporalError, ValueError):
    """An ASL path or intrinsic call that cannot be read."""


@dataclass(frozen=True)
class Env:
    """What the ASL symbols mean where an expression is evaluated.

    Attributes:
        base: JSONata for the value ASL's ``$`` denotes (e.g. the effective state input).
        item: JSONata for ``$$.Map.Item.Value`` (only in a map's item selector).
        index: JSONata for ``$$.Map.Item.Index``.
        token: JSONata for ``$$.Task.Token`` (only in ``.waitForTaskToken`` tasks).
        state: the ASL state name (for ``$$.State.Name`` and deterministic seeds).
        seeds: a counter shared by the state's expressions, so that two ``States.UUID()``
            calls in one state give two values.
    """

    base: str = "$data.value"
    item: str | None = None
    index: str | None = None
    token: str | None = None
    state: str = ""
    seeds: list[int] = field(default_factory=lambda: [0])
    variables: set[str] = field(default_factory=set)

    def at(self, base: str) -> Env:
        return replace(self, base=base)


def literal(value: Any) -> str:
    """A JSON value as JSONata text (lists through ``$states_array``: no flattening)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return json.dumps(value)
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def name_step(key: str) -> str:
    if _IDENT.match(key) and key not in _RESERVED:
        return key
    return "`" + key.replace("`", "") + "`"


def _wrap(base: str) -> str:
    return base if _SIMPLE_BASE.match(base) else f"({base})"


def simple_steps(path: str) -> list[str | int] | None:
    """The keys/indexes of a definite path such as ``$.a['b c'][0]``; None when the path has
    wildcards, filters, slices, recursion or negative indexes."""
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    i = 1
    while i < len(path):
        m = _SIMPLE_STEP.match(path, i)
        if not m:
            return None
        if m.group("name") is not None:
            steps.append(m.group("name"))
        elif m.group("quoted") is not None:
            steps.append(json.loads('"' + m.group("quoted")[1:-1].replace('\\"', '"') + '"'))
        else:
            steps.append(int(m.group("index")))
        i = m.end()
    return steps


def jsonpath(path: str, base: str) -> str:
    """JSONata for a JSONPath applied to ``base``: native steps for definite paths, else
    ``$states_jsonpath`` (exact JSONPath semantics)."""
    steps = simple_steps(path)
    if steps is None:
        return f"$states_jsonpath({base}, {json.dumps(path)})"
    out = _wrap(base) if steps else base
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else "." + name_step(step)
    return out


def reference(path: str, env: Env) -> str:
    """Any ASL reference: ``$...`` over ``env.base``, ``$$...`` context, ``$var...``, or an
    intrinsic function call."""
    path = path.strip()
    if path.startswith("States."):
        from nexus_temporal.stepfunctions.intrinsics import intrinsic

        return intrinsic(path, env)
    if path.startswith("$$"):
        return context_path(path[2:], env)
    if path == "$" or path[1:2] in (".", "["):
        return jsonpath(path, env.base)
    m = _VARIABLE.match(path)
    if m:
        name, rest = m.group(1), m.group(2)
        env.variables.add(name)
        return jsonpath("$" + rest, f"$data.vars.{name_step(name)}")
    raise PathError(f"'{path}' is not a JSONPath, a $$ context path or a $variable")


def context_path(rest: str, env: Env) -> str:
    """``$$<rest>``: the context object (``$context``), with ``Map.Item`` and ``Task.Token``
    resolved where the state provides them."""
    if rest.startswith(".Map.Item.Value"):
        if env.item is None:
            raise PathError("$$.Map.Item.Value is only available in a Map's ItemSelector")
        return jsonpath("$" + rest[len(".Map.Item.Value") :], env.item)
    if rest == ".Map.Item.Index":
        if env.index is None:
            raise PathError("$$.Map.Item.Index is only available in a Map's ItemSelector")
        return env.index
    if rest == ".Task.Token":
        if env.token is None:
            raise PathError("$$.Task.Token is only available in .waitForTaskToken tasks")
        return env.token
    if rest == ".State.Name":
        return json.dumps(env.state)
    return jsonpath("$" + rest, "$context")


def seed(env: Env) -> str:
    """A deterministic seed: workflow id, state, call number and visit."""
    env.seeds[0] += 1
    state = json.dumps(f"/{env.state}/{env.seeds[0]}/")
    return f"$context.Execution.Id & {state} & $string($context.State.Visit)"


def template(value: Any, env: Env) -> str:
    """A ``Parameters``/``ResultSelector``/``ItemSelector`` payload template as one JSONata
    expression: keys ending in ``.$`` are references, everything else is literal."""
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(".$"):
                if not isinstance(item, str):
                    raise PathError(f"'{key}' must be a path string")
                parts.append(f"{json.dumps(key[:-2])}: {reference(item, env)}")
            else:
                parts.append(f"{json.dumps(key)}: {template(item, env)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return json.dumps(value, ensure_ascii=False)
        return "[" + ", ".join(template(v, env) for v in value) + "]"
    return literal(value)


def result_path_expr(result_path: Any, raw: str, result: str) -> str:
    """ResultPath: where ``result`` goes in the raw input ``raw`` ($ replaces, null discards,
    a path merges)."""
    if result_path is _MISSING or result_path == "$":
        return result
    if result_path is None:
        return raw
    steps = simple_steps(str(result_path))
    if steps is None or any(isinstance(s, int) for s in steps):
        raise PathError(f"ResultPath '{result_path}' must be a reference path such as $.a.b")
    return f"$states_set({raw}, {json.dumps(steps)}, {result})"


def output_path_expr(output_path: Any, value: str) -> str:
    """OutputPath: the part of the state output passed on ($: all, null: {})."""
    if output_path is _MISSING or output_path == "$":
        return value
    if output_path is None:
        return "{}"
    return jsonpath(str(output_path), value)


def input_path_expr(input_path: Any, raw: str) -> str:
    """InputPath: the part of the raw input the state works on ($: all, null: {})."""
    return output_path_expr(input_path, raw)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: A field that is absent (distinct from an explicit ``null``).
_MISSING: Any = _Missing()
MISSING: Any = _MISSING
