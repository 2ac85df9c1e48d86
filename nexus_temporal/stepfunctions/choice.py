"""ASL Choice rules → JSONata conditions (every comparison operator, its ``Path`` form, the
``Is*`` tests, ``StringMatches``, ``And``/``Or``/``Not``; JSONata-mode ``Condition``).

A comparison of values of the wrong type is false, as in Step Functions. A ``Variable`` (or a
``...Path`` operand) that is not in the input is a run-time error (``States.Runtime``), except
under ``IsPresent``: :func:`invalid` gives the condition under which evaluating a rule meets
such a path, with ``And``/``Or`` evaluated left to right and stopping once decided.
"""

from __future__ import annotations

import json
from typing import Any

from nexus_temporal.stepfunctions.paths import Env, PathError, reference

_COMPARE = {
    "Equals": "=",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
}
_TYPES = {"String": "string", "Numeric": "number", "Boolean": "boolean"}
OPERATORS = tuple(
    f"{kind}{op}{suffix}"
    for kind in ("String", "Numeric", "Timestamp")
    for op in _COMPARE
    for suffix in ("", "Path")
) + (
    "BooleanEquals",
    "BooleanEqualsPath",
    "StringMatches",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
)


def condition(rule: dict[str, Any], env: Env) -> str:
    """JSONata for one rule (without its ``Next``)."""
    if "And" in rule or "Or" in rule:
        key = "And" if "And" in rule else "Or"
        parts = rule[key]
        if not isinstance(parts, list) or not parts:
            raise PathError(f"'{key}' needs a non-empty list of rules")
        return "(" + f" {key.lower()} ".join(condition(p, env) for p in parts) + ")"
    if "Not" in rule:
        return f"$not({condition(rule['Not'], env)})"
    if "Condition" in rule:
        from nexus_temporal.stepfunctions.jsonata_mode import jsonata_value

        return f"({jsonata_value(rule['Condition'], env)}) = true"
    ops = [k for k in rule if k in OPERATORS]
    if len(ops) != 1 or "Variable" not in rule:
        raise PathError("a choice rule needs 'Variable' and exactly one comparison operator")
    op = ops[0]
    x = reference(str(rule["Variable"]), env)
    operand = rule[op]
    if op.startswith("Is"):
        wanted = bool(operand)
        test = {
            "IsNull": f'($exists({x}) and $type({x}) = "null")',
            "IsPresent": f"$exists({x})",
            "IsNumeric": f'$type({x}) = "number"',
            "IsString": f'$type({x}) = "string"',
            "IsBoolean": f'$type({x}) = "boolean"',
            "IsTimestamp": f"$states_is_timestamp({x})",
        }[op]
        return test if wanted else f"$not({test})"
    path = op.endswith("Path")
    y = reference(str(operand), env) if path else json.dumps(operand)
    base = op[:-4] if path else op
    if base == "StringMatches":
        return f"$states_string_matches({x}, {y})"
    if base == "BooleanEquals":
        return f'($type({x}) = "boolean" and {x} = {y})'
    for kind in ("String", "Numeric", "Timestamp"):
        if base.startswith(kind):
            cmp = _COMPARE[base[len(kind) :]]
            if kind == "Timestamp":
                return f'$states_timestamp_compare({x}, "{cmp}", {y})'
            t = _TYPES[kind]
            guard = f'$type({x}) = "{t}"' + (f' and $type({y}) = "{t}"' if path else "")
            return f"({guard} and {x} {cmp} {y})"
    raise PathError(f"unknown choice operator '{op}'")


def _single(rule: dict[str, Any]) -> tuple[str, Any] | None:
    ops = [k for k in rule if k in OPERATORS]
    return (ops[0], rule[ops[0]]) if len(ops) == 1 and "Variable" in rule else None


def _group(expr: str) -> str:
    return f"({expr})" if " and " in expr or " or " in expr else expr


def invalid(rule: dict[str, Any], env: Env) -> str | None:
    """JSONata that is true when evaluating ``rule`` reads a path that is not in the input
    (Step Functions then fails with ``States.Runtime``); None when it never can."""
    if "And" in rule or "Or" in rule:
        key = "And" if "And" in rule else "Or"
        terms: list[str] = []
        reached: list[str] = []  # what the earlier operands gave for this one to be evaluated
        for part in rule[key]:
            bad = invalid(part, env)
            if bad is not None:
                terms.append(" and ".join([*reached, _group(bad)]) if reached else bad)
            decided = condition(part, env)
            reached.append(decided if key == "And" else f"$not({decided})")
        return " or ".join(_group(t) for t in terms) if len(terms) > 1 else next(iter(terms), None)
    if "Not" in rule:
        return invalid(rule["Not"], env)
    single = _single(rule)
    if single is None or single[0] == "IsPresent":
        return None
    op, operand = single
    paths = [str(rule["Variable"])] + ([str(operand)] if op.endswith("Path") else [])
    return " or ".join(f"$not($exists({reference(p, env)}))" for p in paths)


def paths_read(rule: dict[str, Any]) -> list[str]:
    """The ASL paths a rule reads that must be present (for messages)."""
    out: list[str] = []
    for key in ("And", "Or"):
        for part in rule.get(key) or []:
            out += paths_read(part)
    if isinstance(rule.get("Not"), dict):
        out += paths_read(rule["Not"])
    single = _single(rule)
    if single is not None and single[0] != "IsPresent":
        out.append(str(rule["Variable"]))
        if single[0].endswith("Path"):
            out.append(str(single[1]))
    return out
