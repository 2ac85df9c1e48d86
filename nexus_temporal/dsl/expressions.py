"""JSONata expressions: checked at load time, evaluated deterministically in workflow code.

Every string inside an expression field is JSONata; a literal string is written quoted
(``'"text"'``). Mappings and lists are templates whose leaves are evaluated one by one.

Every evaluation runs under :class:`Bounds` (docs/dsl.md, "Bounded expressions"): a budget of
evaluation steps (the time bound), of array items and of string characters produced (the memory
bound) and of nesting depth. The bounds count what the expression does, never the clock, so an
expression that exceeds them fails the same way, at the same point, on every replay; it raises
:class:`BoundExceeded` (an :class:`ExpressionError`). A wall-clock backstop far beyond the step
budget (``NEXUS_EXPRESSION_BACKSTOP``) raises :class:`EvaluationOverrun` instead, which is not an
expression error: it fails the workflow *task* (Temporal retries it) rather than a state, because
a clock must never decide what a workflow does, and it frees the worker thread.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonata
from jsonata import jsonata as _engine

from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.payloads import min_json_size

#: Functions whose value depends on when or where they run; workflow code must not call them.
NONDETERMINISTIC = ("now", "millis", "random", "shuffle")
#: Any reference, not only a call: ``($f := $now; $f())`` must be refused too.
_NONDET = re.compile(r"\$(" + "|".join(NONDETERMINISTIC) + r")\b")
_LOCK = threading.Lock()

#: Defaults of the bounds (the definition's ``defaults.expression_*`` fields override them).
#: Measured with jsonata-python 0.7 on one core: ~350,000 steps a second, so 250,000 steps is
#: about 0.7 s, well inside the Temporal SDK's 2 s deadlock detector for one workflow task.
DEFAULT_STEPS = 250_000
#: Array items (and object keys) all sub-results of one evaluation may hold, counted every time
#: a sub-expression gives a value: ~40 MB of Python objects at most.
DEFAULT_ITEMS = 1_000_000
#: String characters all sub-results of one evaluation may hold (10 MB; over the 2 MB payload
#: limit on purpose, so an output that is merely too big fails as ``PayloadTooLarge``).
DEFAULT_CHARS = 10_000_000
#: Nested evaluations (a recursive function uses ~3 per call). jsonata-python raises Python's
#: recursion limit to 10,000 frames, ~2,500 nested evaluations; this stops well before, at the
#: same point whatever the caller's stack depth is.
DEFAULT_DEPTH = 1_000
#: Seconds after which an evaluation is cut as a runaway whatever its budget (fails the task).
BACKSTOP_SECONDS = float(os.environ.get("NEXUS_EXPRESSION_BACKSTOP", "20"))
#: ``$distinct`` compares every pair of items in native code, with no evaluation step between:
#: one step is charged per this many comparisons (~200 take as long as one step).
_COMPARISONS_PER_STEP = 200


class ExpressionError(NexusTemporalError):
    """A JSONata expression failed to compile or to evaluate."""

    def __init__(self, expression: str, message: str) -> None:
        self.expression = expression
        self.message = message
        super().__init__(f"JSONata error in {expression!r}: {message}")


class BoundExceeded(ExpressionError):
    """An evaluation went over one of its :class:`Bounds` (deterministic: counted, not timed)."""

    def __init__(self, expression: str, message: str, bound: str) -> None:
        super().__init__(expression, message)
        self.bound = bound


class EvaluationOverrun(NexusTemporalError, RuntimeError):
    """An evaluation ran past the wall-clock backstop; fails the workflow task, not a state."""


@dataclass(frozen=True)
class Bounds:
    """What one evaluation of an expression field may use (every leaf of a template shares it)."""

    steps: int = DEFAULT_STEPS
    items: int = DEFAULT_ITEMS
    chars: int = DEFAULT_CHARS
    depth: int = DEFAULT_DEPTH


DEFAULT_BOUNDS = Bounds()

#: What each bound is called in messages and where it is raised.
_KNOB = {
    "steps": ("evaluation steps", "expression_steps"),
    "items": ("array items produced", "expression_items"),
    "chars": ("string characters produced", "expression_chars"),
    "depth": ("nested evaluations", "expression_depth"),
}


class _Trip(Exception):
    """Raised inside the engine when a bound is hit; :func:`evaluate` turns it into the error.

    jsonata-python wraps some exceptions into its own (``$eval``, ``and``/``or``), so the meter
    also remembers the first trip and :func:`evaluate` reports that one, whatever came out.
    """


class _Meter:
    """The running counts of one evaluation."""

    __slots__ = ("bounds", "steps", "items", "chars", "depth", "deadline", "tripped")

    def __init__(self, bounds: Bounds) -> None:
        self.bounds = bounds
        self.steps = self.items = self.chars = self.depth = 0
        self.deadline = time.monotonic() + BACKSTOP_SECONDS
        self.tripped: tuple[str, int] | BaseException | None = None

    def trip(self, bound: str, used: int) -> None:
        if self.tripped is None:
            self.tripped = (bound, used)
        raise _Trip(bound)

    def overrun(self) -> None:
        if time.monotonic() > self.deadline:
            if not isinstance(self.tripped, tuple):
                self.tripped = EvaluationOverrun(
                    f"a JSONata evaluation ran for over {BACKSTOP_SECONDS:.0f} s (the "
                    "NEXUS_EXPRESSION_BACKSTOP wall-clock backstop) before its step budget "
                    "ran out: the worker is overloaded or 'defaults.expression_steps' is far "
                    "too high; lower it (the workflow task is retried)"
                )
            raise _Trip("backstop")

    def produced(self, value: Any) -> None:
        if isinstance(value, str):
            self.chars += len(value)
            if self.chars > self.bounds.chars:
                self.trip("chars", self.chars)
        elif isinstance(value, (list, dict)):
            self.items += len(value)
            if self.items > self.bounds.items:
                self.trip("items", self.items)

    def need(self, bound: str, amount: int) -> None:
        """Refuse, before a native function allocates it, a result that would go over."""
        used = getattr(self, bound) + amount
        if used > getattr(self.bounds, bound):
            self.trip(bound, used)

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.bounds.steps:
            self.trip("steps", self.steps)


_STATE = threading.local()


def _meter() -> _Meter | None:
    meter: _Meter | None = getattr(_STATE, "meter", None)
    return meter


# --- The one patch of jsonata-python -----------------------------------------------------------
# The library's own hook (Frame.set_runtime_bounds / Timebox) is a wall clock, which a replay
# cannot reproduce, and its callbacks are looked up by name ("__evaluate_entry") in the
# expression's own variable scope on every step, where an expression can shadow them
# ($__evaluate_entry := ...). So the meter wraps the engine's single evaluation entry point,
# Jsonata._eval (every sub-expression, lambda body, $eval and trampolined tail call goes
# through it), and the few native functions whose result can be far larger than their
# arguments. Outside :func:`evaluate` (no meter on the thread) the engine runs as shipped.
_library_eval: Callable[..., Any] = _engine.Jsonata._eval


def _bounded_eval(self: Any, expr: Any, input: Any, environment: Any) -> Any:
    meter: _Meter | None = getattr(_STATE, "meter", None)
    if meter is None:
        return _library_eval(self, expr, input, environment)
    meter.steps += 1
    if meter.steps > meter.bounds.steps:
        meter.trip("steps", meter.steps)
    if not meter.steps & 0x3FF:
        meter.overrun()
    meter.depth += 1
    if meter.depth > meter.bounds.depth:
        meter.trip("depth", meter.depth)
    try:
        result = _library_eval(self, expr, input, environment)
    finally:
        meter.depth -= 1
    meter.produced(result)
    return result


def _guard(name: str, check: Callable[..., None]) -> None:
    """Run ``check(meter, *args)`` before the native function ``$name`` allocates its result."""
    native = _engine.Jsonata.static_frame.bindings[name]
    original = native.method

    @functools.wraps(original)  # keeps the signature: the engine counts its parameters
    def guarded(*args: Any) -> Any:
        meter = _meter()
        if meter is not None:
            check(meter, *args)
        return original(*args)

    native.method = guarded


def _check_pad(meter: _Meter, string: Any, width: Any, char: Any = None) -> None:
    if isinstance(width, (int, float)) and not isinstance(width, bool):
        meter.need("chars", min(abs(int(width)), 1 << 62))


def _check_join(meter: _Meter, strs: Any, separator: Any = None) -> None:
    if isinstance(strs, list):
        sep = len(separator) if isinstance(separator, str) else 0
        total = 0
        for s in strs:
            total += (len(s) if isinstance(s, str) else 0) + sep
            if total > meter.bounds.chars:
                break
        meter.need("chars", total)


def _check_string(meter: _Meter, arg: Any, prettify: Any = None) -> None:
    if isinstance(arg, (list, dict)):
        meter.need("chars", min_json_size(arg, meter.bounds.chars - meter.chars))


def _matches(string: str, pattern: Any, limit: Any) -> int:
    if isinstance(pattern, str):
        found = string.count(pattern) if pattern else len(string) + 1
    elif hasattr(pattern, "finditer"):
        found = sum(1 for _ in pattern.finditer(string))
    else:
        return 0
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        found = min(found, max(int(limit), 0))
    return found


def _check_replace(
    meter: _Meter, string: Any, pattern: Any, replacement: Any, limit: Any = None
) -> None:
    if isinstance(string, str) and isinstance(replacement, str):
        # Each match adds the replacement, and each group reference in it up to the whole string.
        per_match = len(replacement) + replacement.count("$") * len(string)
        meter.need("chars", len(string) + _matches(string, pattern, limit) * per_match)


def _check_split(meter: _Meter, string: Any, pattern: Any, limit: Any = None) -> None:
    if isinstance(string, str):
        meter.need("items", _matches(string, pattern, limit) + 1)


def _check_distinct(meter: _Meter, arr: Any) -> None:
    if isinstance(arr, list):
        n = len(arr)
        meter.charge(n * (n - 1) // 2 // _COMPARISONS_PER_STEP)


try:
    _engine.Jsonata._eval = _bounded_eval
    _guard("pad", _check_pad)
    _guard("join", _check_join)
    _guard("string", _check_string)
    _guard("replace", _check_replace)
    _guard("split", _check_split)
    _guard("distinct", _check_distinct)
except (AttributeError, KeyError) as exc:  # pragma: no cover - a jsonata-python we do not know
    raise ImportError(
        f"jsonata-python {getattr(jsonata, '__version__', '?')} changed the internals the "
        f"expression bounds wrap ({exc}); pin jsonata-python to the range in pyproject.toml"
    ) from exc
# ------------------------------------------------------------------------------------------------


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
            if "$eval" in text:
                # $eval builds its expression from data, after the load-time check: shadow the
                # non-deterministic functions so a built "$now()" fails instead of running.
                for name in NONDETERMINISTIC:
                    compiled.register_lambda(name, _refuse(name))
            return compiled
    except Exception as exc:  # jsonata raises its own JException and plain ValueErrors
        raise ExpressionError(text, _message(exc)) from None


def _refuse(name: str) -> Any:
    def refuse(*_: Any) -> Any:
        raise ValueError(f"${name}() is not deterministic and cannot run in a workflow")

    return refuse


def _message(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _bound_error(text: str, bounds: Bounds, bound: str, used: int) -> BoundExceeded:
    what, knob = _KNOB[bound]
    limit = getattr(bounds, bound)
    return BoundExceeded(
        text,
        f"the expression went over its bound of {limit:,} {what} (reached {used:,}); "
        f"make it do less (filter or aggregate earlier, move heavy work into an action), or "
        f"raise 'defaults.{knob}' in the definition",
        bound,
    )


def evaluate(
    text: str,
    data: Any,
    bindings: Mapping[str, Any] | None = None,
    bounds: Bounds | None = DEFAULT_BOUNDS,
) -> Any:
    """Evaluate one expression against ``data`` with ``$name`` bindings.

    ``bounds=None`` evaluates without any bound (only to replay histories recorded before the
    bounds existed, interpreters/states/data.py).

    Raises:
        BoundExceeded: the evaluation went over ``bounds``.
        ExpressionError: any other evaluation error.
        EvaluationOverrun: the wall-clock backstop cut it (not an ExpressionError).
    """
    return _evaluate(text, data, bindings, _Meter(bounds) if bounds is not None else None)


def _evaluate(
    text: str, data: Any, bindings: Mapping[str, Any] | None, meter: _Meter | None
) -> Any:
    compiled = compile_expression(text)
    with _LOCK:
        _STATE.meter = meter
        try:
            result = compiled.evaluate(data, dict(bindings) if bindings else None)
        except Exception as exc:
            if meter is None or meter.tripped is None:
                raise ExpressionError(text, _message(exc)) from None
        finally:
            _STATE.meter = None
    if meter is not None and meter.tripped is not None:
        # Also when the engine swallowed the trip and went on: once over, always over.
        tripped = meter.tripped
        if isinstance(tripped, BaseException):
            raise tripped
        raise _bound_error(text, meter.bounds, *tripped)
    return result


def evaluate_template(
    template: Any,
    data: Any,
    bindings: Mapping[str, Any] | None = None,
    bounds: Bounds | None = DEFAULT_BOUNDS,
) -> Any:
    """Evaluate an expression field: a string, or a structure whose strings are expressions.

    All the expressions of one template share one budget: the bounds are per field.
    """
    meter = _Meter(bounds) if bounds is not None else None

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _evaluate(node, data, bindings, meter)
        if isinstance(node, Mapping):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [walk(v) for v in node]
        return node

    return walk(template)


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
