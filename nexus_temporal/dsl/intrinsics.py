"""Step Functions semantics as JSONata functions, registered in every NEXUS expression.

The 18 ASL intrinsic functions (``States.Format`` → ``$states_format`` ...), plus the helpers
the Step Functions importer generates (``$states_jsonpath``, ``$states_set``,
``$states_error``, ``$states_cause``, ``$states_pluck``). All of them are deterministic:
``$states_uuid`` and ``$states_math_random`` derive their value from a seed (the importer
passes the workflow id, the state and its visit number), so a replay computes the same value.
Documented in docs/dsl.md §8.6.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from datetime import UTC
from typing import Any

from nexus_temporal.errors import NexusTemporalError

#: NEXUS error types and the Step Functions error names they stand for.
ERROR_NAMES = {
    "Timeout": "States.Timeout",
    "ExpressionError": "States.Runtime",
    "NoChoiceMatched": "States.NoChoiceMatched",
    "MapToleranceExceeded": "States.ExceedToleratedFailureThreshold",
    "PayloadTooLarge": "States.DataLimitExceeded",
    "ItemSourceNotFound": "States.ItemReaderFailed",
    "InvalidItemSource": "States.ItemReaderFailed",
}


class IntrinsicError(NexusTemporalError, ValueError):
    """An intrinsic function got invalid arguments (an ``ExpressionError`` at run time)."""


def _num(value: Any, what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise IntrinsicError(f"{what} must be a number, got {value!r}")
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _int(value: Any, what: str) -> int:
    n = _num(value, what)
    if not isinstance(n, int):
        raise IntrinsicError(f"{what} must be an integer, got {value!r}")
    return n


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    raise IntrinsicError(f"States.Format takes strings, numbers, booleans or null, got {value!r}")


def states_format(template: Any, *args: Any) -> str:
    """``States.Format``: replace each ``{}`` with the next argument (``\\{`` is a brace)."""
    if not isinstance(template, str):
        raise IntrinsicError("States.Format needs a string template")
    out: list[str] = []
    i = n = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        if template.startswith("{}", i):
            if n >= len(args):
                raise IntrinsicError("States.Format has more {} than arguments")
            out.append(_text(args[n]))
            n += 1
            i += 2
            continue
        out.append(ch)
        i += 1
    if n != len(args):
        raise IntrinsicError("States.Format has more arguments than {}")
    return "".join(out)


def states_string_to_json(text: Any) -> Any:
    if not isinstance(text, str):
        raise IntrinsicError("States.StringToJson needs a string")
    return json.loads(text)


def states_json_to_string(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def states_array(*args: Any) -> list[Any]:
    return list(args)


def states_array_partition(array: Any, size: Any) -> list[Any]:
    items = _list(array, "States.ArrayPartition")
    n = _int(size, "the chunk size")
    if n < 1:
        raise IntrinsicError("the chunk size must be positive")
    return [items[i : i + n] for i in range(0, len(items), n)]


def states_array_contains(array: Any, value: Any) -> bool:
    return any(_same(x, value) for x in _list(array, "States.ArrayContains"))


def states_array_range(start: Any, end: Any, step: Any) -> list[Any]:
    a, b, s = _int(start, "start"), _int(end, "end"), _int(step, "step")
    if s == 0:
        raise IntrinsicError("States.ArrayRange step must not be 0")
    span = range(a, b + (1 if s > 0 else -1), s)
    if len(span) > 1000:  # measured before building: the bounds come from the data
        raise IntrinsicError("States.ArrayRange gives at most 1000 items")
    return list(span)


def states_array_get_item(array: Any, index: Any) -> Any:
    items = _list(array, "States.ArrayGetItem")
    i = _int(index, "the index")
    if not 0 <= i < len(items):
        raise IntrinsicError(f"index {i} is out of range")
    return items[i]


def states_array_length(array: Any) -> int:
    return len(_list(array, "States.ArrayLength"))


def states_array_unique(array: Any) -> list[Any]:
    out: list[Any] = []
    for x in _list(array, "States.ArrayUnique"):
        if not any(_same(x, y) for y in out):
            out.append(x)
    return out


def states_base64_encode(text: Any) -> str:
    if not isinstance(text, str):
        raise IntrinsicError("States.Base64Encode needs a string")
    return base64.b64encode(text.encode()).decode()


def states_base64_decode(text: Any) -> str:
    if not isinstance(text, str):
        raise IntrinsicError("States.Base64Decode needs a string")
    return base64.b64decode(text.encode()).decode()


_HASHES = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def states_hash(data: Any, algorithm: Any) -> str:
    if algorithm not in _HASHES:
        raise IntrinsicError(f"States.Hash algorithm must be one of {', '.join(_HASHES)}")
    text = data if isinstance(data, str) else states_json_to_string(data)
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


def states_json_merge(a: Any, b: Any, deep: Any = False) -> dict[str, Any]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise IntrinsicError("States.JsonMerge merges two objects")
    if deep:
        raise IntrinsicError("States.JsonMerge supports only a shallow merge (false)")
    return {**a, **b}


def states_math_random(start: Any, end: Any, seed: Any = None) -> int:
    """An integer in [start, end), from ``seed`` (the importer always passes one)."""
    a, b = _int(start, "start"), _int(end, "end")
    if b <= a:
        raise IntrinsicError("States.MathRandom needs start < end")
    return random.Random(_text(seed)).randrange(a, b)


def states_random(seed: Any = None) -> float:
    """JSONata-mode ``$random()``: a float in [0, 1) from ``seed`` (deterministic)."""
    return random.Random(_text(seed)).random()


def states_math_add(a: Any, b: Any) -> Any:
    return _num(a, "the first value") + _num(b, "the second value")


def states_string_split(text: Any, delimiters: Any) -> list[str]:
    if not isinstance(text, str) or not isinstance(delimiters, str):
        raise IntrinsicError("States.StringSplit needs two strings")
    if not delimiters:
        return [text]
    parts = re.split("[" + re.escape(delimiters) + "]", text)
    return [p for p in parts if p]


def states_uuid(seed: Any = None) -> str:
    """A version-4-shaped UUID derived from ``seed``: the same seed gives the same UUID."""
    digest = hashlib.sha256(_text(seed).encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4))


# -- helpers generated by the importer ------------------------------------------------------


def states_error(error_type: Any) -> Any:
    """The Step Functions name of a NEXUS error type (``Timeout`` → ``States.Timeout``)."""
    return ERROR_NAMES.get(error_type, error_type) if isinstance(error_type, str) else error_type


def states_cause(error: Any) -> Any:
    """The Step Functions ``Cause`` of a NEXUS error object (docs/dsl.md §10.1): the original
    error's message, unprefixed by enclosing parallel states (``cause``); for a Lambda error
    (``details`` with ``errorType``), the JSON ``{"errorMessage", "errorType"}`` as in Step
    Functions."""
    seen = 0
    while (
        isinstance(error, dict)
        and error.get("cause") is not None
        and isinstance(error.get("details"), dict)
        and "type" in error["details"]
        and seen < 100
    ):
        error, seen = error["details"], seen + 1  # a parallel's details: the branch's error
    if not isinstance(error, dict):
        return None
    details = error.get("details")
    if isinstance(details, dict) and details.get("errorType"):
        lambda_error = {
            "errorMessage": details.get("errorMessage"),
            "errorType": details["errorType"],
        }
        return states_json_to_string({k: v for k, v in lambda_error.items() if v is not None})
    cause = error.get("cause")
    return cause if cause is not None else error.get("message")


def states_set(target: Any, path: Any, value: Any) -> Any:
    """ResultPath: a copy of ``target`` with ``value`` at ``path`` (a list of keys), creating
    objects on the way; an empty path replaces the whole target."""
    keys = path if isinstance(path, list) else [path]
    if not keys:
        return value
    root = dict(target) if isinstance(target, dict) else {}
    node = root
    for key in keys[:-1]:
        child = node.get(key)
        node[key] = dict(child) if isinstance(child, dict) else {}
        node = node[key]
    node[keys[-1]] = value
    return root


def states_pluck(items: Any, key: Any) -> list[Any]:
    """``[item[key] for item in items]`` exactly (no JSONata flattening): branch and map
    results keep each iteration's value, arrays included."""
    if items is None:
        return []
    seq = items if isinstance(items, list) else [items]
    return [x.get(key) if isinstance(x, dict) else None for x in seq]


def states_values(obj: Any, keys: Any, key: Any) -> list[Any]:
    """``[obj[k][key] for k in keys]``: a Parallel state's branch outputs, in branch order."""
    if not isinstance(obj, dict) or not isinstance(keys, list):
        raise IntrinsicError("states_values needs an object and a list of keys")
    return [(obj.get(k) or {}).get(key) for k in keys]


def _millis(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    from datetime import datetime

    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if "T" not in value:
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp() * 1000


def states_is_timestamp(value: Any) -> bool:
    """Choice ``IsTimestamp``: an ISO-8601 date-time string."""
    return _millis(value) is not None


def states_timestamp_compare(a: Any, op: Any, b: Any) -> bool:
    """Choice ``Timestamp*``: compare two timestamps; false when either is not one."""
    x, y = _millis(a), _millis(b)
    if x is None or y is None:
        return False
    return bool(
        {"=": x == y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}.get(str(op), False)
    )


def states_string_matches(value: Any, pattern: Any) -> bool:
    """Choice ``StringMatches``: ``*`` matches any run of characters, ``\\*`` a star."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return False
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if pattern[i] == "*" else re.escape(pattern[i])
        i += 1
    return re.fullmatch(regex, value, re.DOTALL) is not None


_STEP = re.compile(
    r"""\.\.(?P<deep>[A-Za-z0-9_$@-]+|\*)
      |\.(?P<name>[^.\[\]]+)
      |\[\s*(?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\]
      |\[\s*(?P<slice>-?\d*\s*:\s*-?\d*)\s*\]
      |\[\s*(?P<union>-?\d+(?:\s*,\s*-?\d+)*)\s*\]
      |\[\s*\*\s*\]
      |\[\s*\?\s*\((?P<filter>.*?)\)\s*\]""",
    re.VERBOSE,
)
_FILTER = re.compile(
    r"""^@(?P<path>(?:\.[A-Za-z0-9_$-]+)*)\s*(?:(?P<op>==|!=|<=|>=|<|>)\s*(?P<value>.+))?$"""
)


def _steps(path: str) -> list[tuple[str, Any]]:
    if not path.startswith("$"):
        raise IntrinsicError(f"'{path}' is not a JSONPath (it must start with $)")
    steps: list[tuple[str, Any]] = []
    i = 1
    while i < len(path):
        m = _STEP.match(path, i)
        if not m:
            raise IntrinsicError(f"cannot read JSONPath '{path}' at {path[i:]!r}")
        if m.group("deep") is not None:
            steps.append(("deep", m.group("deep")))
        elif m.group("name") is not None:
            name = m.group("name")
            steps.append(("all", None) if name == "*" else ("key", name))
        elif m.group("quoted") is not None:
            steps.append(("key", json.loads('"' + m.group("quoted")[1:-1] + '"')))
        elif m.group("slice") is not None:
            a, b = (x.strip() for x in m.group("slice").split(":"))
            steps.append(("slice", (int(a) if a else None, int(b) if b else None)))
        elif m.group("union") is not None:
            idx = [int(x) for x in m.group("union").split(",")]
            steps.append(("index", idx[0]) if len(idx) == 1 else ("union", idx))
        elif m.group("filter") is not None:
            steps.append(("filter", m.group("filter").strip()))
        else:
            steps.append(("all", None))
        i = m.end()
    return steps


def _filter_ok(item: Any, expr: str) -> bool:
    m = _FILTER.match(expr)
    if not m:
        raise IntrinsicError(f"unsupported JSONPath filter '{expr}'")
    node: Any = item
    for key in [k for k in m.group("path").split(".") if k]:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    if m.group("op") is None:
        return True
    raw = m.group("value").strip()
    value = json.loads('"' + raw[1:-1] + '"') if raw[:1] == "'" else json.loads(raw)
    op = m.group("op")
    try:
        return bool(
            {
                "==": lambda: node == value,
                "!=": lambda: node != value,
                "<": lambda: node < value,
                "<=": lambda: node <= value,
                ">": lambda: node > value,
                ">=": lambda: node >= value,
            }[op]()
        )
    except TypeError:
        return False


def _deep(node: Any, name: str) -> list[Any]:
    out: list[Any] = []
    if isinstance(node, dict):
        if name == "*":
            out.extend(node.values())
        elif name in node:
            out.append(node[name])
        for v in node.values():
            out.extend(_deep(v, name))
    elif isinstance(node, list):
        if name == "*":
            out.extend(node)
        for v in node:
            out.extend(_deep(v, name))
    return out


def states_jsonpath(data: Any, path: Any) -> Any:
    """Evaluate a Step Functions JSONPath over ``data``. A definite path (names and indexes
    only) gives its value and fails when it is missing; any other path gives a list."""
    if not isinstance(path, str):
        raise IntrinsicError("the JSONPath must be a string")
    steps = _steps(path)
    definite = all(kind in ("key", "index") for kind, _ in steps)
    nodes = [data]
    for kind, arg in steps:
        out: list[Any] = []
        for node in nodes:
            if kind == "key":
                if isinstance(node, dict) and arg in node:
                    out.append(node[arg])
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= arg < len(node):
                    out.append(node[arg])
            elif kind == "union":
                if isinstance(node, list):
                    out.extend(node[i] for i in arg if -len(node) <= i < len(node))
            elif kind == "slice":
                if isinstance(node, list):
                    out.extend(node[arg[0] : arg[1]])
            elif kind == "all":
                if isinstance(node, dict):
                    out.extend(node.values())
                elif isinstance(node, list):
                    out.extend(node)
            elif kind == "deep":
                out.extend(_deep(node, arg))
            elif kind == "filter":
                candidates = node if isinstance(node, list) else [node]
                out.extend(x for x in candidates if _filter_ok(x, arg))
        nodes = out
    if definite:
        if not nodes:
            raise IntrinsicError(f"the JSONPath '{path}' found nothing in the input")
        return nodes[0]
    return nodes


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise IntrinsicError(f"{what} needs an array, got {value!r}")
    return value


def _same(a: Any, b: Any) -> bool:
    return states_json_to_string(a) == states_json_to_string(b)


#: The JSONata name of each function (``$states_format`` ...).
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "states_format": states_format,
    "states_string_to_json": states_string_to_json,
    "states_json_to_string": states_json_to_string,
    "states_array": states_array,
    "states_array_partition": states_array_partition,
    "states_array_contains": states_array_contains,
    "states_array_range": states_array_range,
    "states_array_get_item": states_array_get_item,
    "states_array_length": states_array_length,
    "states_array_unique": states_array_unique,
    "states_base64_encode": states_base64_encode,
    "states_base64_decode": states_base64_decode,
    "states_hash": states_hash,
    "states_json_merge": states_json_merge,
    "states_math_random": states_math_random,
    "states_math_add": states_math_add,
    "states_random": states_random,
    "states_string_split": states_string_split,
    "states_uuid": states_uuid,
    "states_error": states_error,
    "states_cause": states_cause,
    "states_set": states_set,
    "states_pluck": states_pluck,
    "states_values": states_values,
    "states_jsonpath": states_jsonpath,
    "states_is_timestamp": states_is_timestamp,
    "states_timestamp_compare": states_timestamp_compare,
    "states_string_matches": states_string_matches,
}

#: ASL intrinsic name → JSONata function name.
INTRINSICS = {
    "States.Format": "states_format",
    "States.StringToJson": "states_string_to_json",
    "States.JsonToString": "states_json_to_string",
    "States.Array": "states_array",
    "States.ArrayPartition": "states_array_partition",
    "States.ArrayContains": "states_array_contains",
    "States.ArrayRange": "states_array_range",
    "States.ArrayGetItem": "states_array_get_item",
    "States.ArrayLength": "states_array_length",
    "States.ArrayUnique": "states_array_unique",
    "States.Base64Encode": "states_base64_encode",
    "States.Base64Decode": "states_base64_decode",
    "States.Hash": "states_hash",
    "States.JsonMerge": "states_json_merge",
    "States.MathRandom": "states_math_random",
    "States.MathAdd": "states_math_add",
    "States.StringSplit": "states_string_split",
    "States.UUID": "states_uuid",
}


def register(expression: Any) -> None:
    """Register every function on one compiled ``jsonata.Jsonata`` expression."""
    for name, fn in FUNCTIONS.items():
        expression.register_lambda(name, fn)
