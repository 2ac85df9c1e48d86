"""JSONata expressions: checked at load time, evaluated deterministically in workflow code.

Every string inside an expression field is JSONata; a literal string is written quoted
(``'"text"'``). Mappings and lists are templates whose leaves are evaluated one by one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import jsonata

#: Functions whose value depends on when or where they run; workflow code must not call them.
NONDETERMINISTIC = ("now", "millis", "random")
#: Any reference, not only a call: ``($f := $now; $f())`` must be refused too.
_NONDET = re.compile(r"\$(" + "|".join(NONDETERMINISTIC) + r")\b")
_LOCK = threading.Lock()


class ExpressionError(Exception):
    """A JSONata expression failed to compile or to evaluate."""

    def __init__(self, expression: str, message: str) -> None:
        self.expression = expression
        self.message = message
        super().__init__(f"JSONata error in {expression!r}: {message}")


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> jsonata.Jsonata:
    """Compile (and cache) one JSONata expression.

    Raises:
        ExpressionError: on a syntax error or a non-deterministic function.
    """
    found = _NONDET.search(text)
    if found:
        raise ExpressionError(
            text,
            f"${found.group(1)}() is not deterministic and cannot run in a workflow; "
            "pass the value in the input, or compute it in an action",
        )
    try:
        with _LOCK:
            compiled = jsonata.Jsonata(text)
            if "$states_" in text:  # Step Functions semantics (nexus_temporal/dsl/intrinsics.py)
                from nexus_temporal.dsl.intrinsics import register

                register(compiled)
            return compiled
    except Exception as exc:  # jsonata raises its own JException and plain ValueErrors
        raise ExpressionError(text, _message(exc)) from None


def _message(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def evaluate(text: str, data: Any, bindings: Mapping[str, Any] | None = None) -> Any:
    """Evaluate one expression against ``data`` with ``$name`` bindings."""
    compiled = compile_expression(text)
    try:
        with _LOCK:
            return compiled.evaluate(data, dict(bindings) if bindings else None)
    except Exception as exc:
        raise ExpressionError(text, _message(exc)) from None


def evaluate_template(template: Any, data: Any, bindings: Mapping[str, Any] | None = None) -> Any:
    """Evaluate an expression field: a string, or a structure whose strings are expressions."""
    if isinstance(template, str):
        return evaluate(template, data, bindings)
    if isinstance(template, Mapping):
        return {k: evaluate_template(v, data, bindings) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return [evaluate_template(v, data, bindings) for v in template]
    return template


def iter_template_errors(
    template: Any, path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], ExpressionError]]:
    """Yield ``(path, error)`` for every expression in a template that does not compile."""
    if isinstance(template, str):
        try:
            compile_expression(template)
        except ExpressionError as exc:
            yield path, exc
    elif isinstance(template, Mapping):
        for key, value in template.items():
            yield from iter_template_errors(value, path + (key,))
    elif isinstance(template, (list, tuple)):
        for i, value in enumerate(template):
            yield from iter_template_errors(value, path + (i,))
