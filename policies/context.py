"""What a policy rule sees: one JSON context per subject (a definition, a function, a state).

A context joins the compiled plan (every default applied: what will run) with the YAML as the
user wrote it (``written``, and the ``*_explicit`` flags): the compiler fills a 60 s timeout
into every task, so "has a timeout" and "has a timeout someone chose" are different questions.
The fields are documented in docs/policies.md; :data:`FIELDS` lists them for rule validation.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nexus_temporal.dsl.errors import Location
from nexus_temporal.dsl.loader import Document, load_yaml_file
from nexus_temporal.dsl.plan import Plan, uri_scheme
from nexus_temporal.dsl.schema import (
    MAX_ATTEMPTS,
    STATE_MODELS,
    Defaults,
    Definition,
    FunctionSpec,
    MapState,
    ParallelState,
    RetrySpec,
    State,
    Walked,
    walk,
)

SCOPES = ("definition", "function", "state")
#: Roots a rule of each scope may name.
ROOTS: dict[str, tuple[str, ...]] = {
    "definition": ("definition",),
    "function": ("function", "definition"),
    "state": ("state", "function", "definition"),
}
#: ``retry_count`` of an unlimited retry policy: more than any bound a rule may set.
UNLIMITED = MAX_ATTEMPTS
#: HTTP methods that do not change state, and those that may be repeated safely (RFC 9110).
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_IDEMPOTENT_METHODS = _SAFE_METHODS + ("PUT", "DELETE")

_RETRY_FIELDS: dict[str, Any] = {name: None for name in RetrySpec.model_fields}
_STATE_MODELS = STATE_MODELS


def _state_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for model in _STATE_MODELS:
        for name, info in model.model_fields.items():
            fields[info.alias or name] = None
    fields.update(
        {
            "path": None,
            "depth": None,
            "retry": _RETRY_FIELDS,
            "retry_count": None,
            "retry_explicit": None,
            "timeout_explicit": None,
            "max_concurrency_explicit": None,
            "has_compensation": None,
            "calls_function": None,
            "written": ...,
        }
    )
    return fields


#: Every field a rule may name, per root; a nested mapping checks the next step too, ``None``
#: stops checking there, ``...`` means free-form data (what the user wrote).
FIELDS: dict[str, Any] = {
    "definition": {
        "name": None,
        "version": None,
        "description": None,
        "file": None,
        "hash": None,
        "defaults": {name: None for name in Defaults.model_fields} | {"retry": _RETRY_FIELDS},
        "functions": None,
        "states": None,
        "state_count": None,
        "written": ...,
    },
    "function": {
        "name": None,
        "uri": None,
        "scheme": None,
        "declared": None,
        "host": None,
        "loopback": None,
        "method": None,
        "headers": None,
        "timeout": None,
        "retry": _RETRY_FIELDS,
        "retry_count": None,
        "state_changing": None,
        "idempotent": None,
        "used_by": None,
        "written": ...,
    },
    "state": _state_fields(),
}


@dataclass(frozen=True)
class Subject:
    """One thing a rule is evaluated against: its context and where to report it."""

    scope: str
    context: dict[str, Any]
    location: Location
    definition: str
    state: str | None = None
    function: str | None = None


def retry_json(spec: RetrySpec | None) -> dict[str, Any] | None:
    return None if spec is None else spec.model_dump(mode="json")


def retry_count(spec: RetrySpec | None) -> int | None:
    """Retries after the first attempt; :data:`UNLIMITED` for ``max_attempts: 0``."""
    if spec is None:
        return None
    return UNLIMITED if spec.max_attempts == 0 else spec.max_attempts - 1


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_document(plan: Plan) -> Document | None:
    """The plan's source as written, or None when it is not a readable, parseable file."""
    try:
        return load_yaml_file(plan.source)
    except Exception:
        return None


def _raw(doc: Document | None, path: tuple[Any, ...]) -> Any:
    node: Any = doc.data if doc is not None else None
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def _location(plan: Plan, doc: Document | None, path: tuple[Any, ...], key: bool) -> Location:
    if doc is None:
        return Location(plan.source)
    return doc.location(path, key=key)


def _written_in(raw: Any, key: str) -> bool:
    return isinstance(raw, dict) and key in raw


def subjects(plan: Plan, doc: Document | None = None) -> Iterator[Subject]:
    """Every subject of ``plan``: the definition, each function it calls, each state.

    ``doc`` is the source as written (re-read from ``plan.source`` when not given); without
    it, what the compiler filled in counts as written.
    """
    if doc is None:
        doc = read_document(plan)
    definition = plan.definition
    name = definition.name
    walked = list(walk(definition.states))
    definition_ctx: dict[str, Any] = {
        "name": name,
        "version": definition.version,
        "description": definition.description,
        "file": plan.source,
        "hash": plan.hash,
        "defaults": definition.defaults.model_dump(mode="json"),
        "functions": sorted(definition.functions),
        "states": [s.name for s, *_ in walked],
        "state_count": len(walked),
        "written": doc.data if doc is not None else plan.to_json(),
    }
    yield Subject(
        "definition",
        {"definition": definition_ctx},
        _location(plan, doc, ("name",), key=True),
        name,
    )

    functions = _functions(plan, doc, walked)
    state_paths = {s.name: spath for s, spath, *_ in walked}
    for fname, ctx in functions.items():
        path: tuple[Any, ...] = ("functions", fname)
        if not ctx["declared"]:  # named directly by a state: report it at the first one
            path = state_paths.get(ctx["used_by"][0], ("states",)) if ctx["used_by"] else ()
        yield Subject(
            "function",
            {"function": ctx, "definition": definition_ctx},
            _location(plan, doc, path, key=bool(ctx["declared"])),
            name,
            function=fname,
        )

    for state, spath, scope_id, depth in walked:
        raw = _raw(doc, spath)
        ctx = _state_context(plan, state, raw if doc is not None else None, scope_id, depth)
        context: dict[str, Any] = {"state": ctx, "definition": definition_ctx}
        action = getattr(state, "action", None)
        if isinstance(action, str) and action:
            context["function"] = functions[plan.target(action).function]
        yield Subject(
            "state",
            context,
            _location(plan, doc, spath, key=False),
            name,
            state=state.name,
        )


def _function_spec(definition: Definition, name: str) -> FunctionSpec | None:
    fn = definition.functions.get(name)
    if fn is None:
        return None
    return fn if isinstance(fn, FunctionSpec) else FunctionSpec(uri=fn)


def _functions(plan: Plan, doc: Document | None, walked: list[Walked]) -> dict[str, dict[str, Any]]:
    """The context of every function the definition declares or names directly in a state."""
    definition = plan.definition
    used: dict[str, list[str]] = {n: [] for n in definition.functions}
    for state, *_ in walked:
        for action in state.actions():
            users = used.setdefault(plan.target(action).function, [])
            if state.name not in users:
                users.append(state.name)
    out: dict[str, dict[str, Any]] = {}
    for fname, users in used.items():
        target = plan.target(fname)
        spec = target.spec
        declared = fname in definition.functions
        raw = _raw(doc, ("functions", fname)) if declared else None
        scheme = uri_scheme(spec.uri)
        host: str | None = None
        loopback: bool | None = None
        method: str | None = None
        state_changing: bool | None = None
        idempotent: bool | None = None
        if scheme in ("http", "https"):
            try:
                host = urlsplit(spec.uri).hostname or ""
            except ValueError:
                host = ""
            loopback = is_loopback(host)
            method = spec.method.upper()
            state_changing = method not in _SAFE_METHODS
            idempotent = method in _IDEMPOTENT_METHODS
        if spec.idempotent is not None:  # the function's own `idempotent:` marker wins
            idempotent = spec.idempotent
            if not spec.idempotent:  # repeating it acts again, so it changes something
                state_changing = True
        retry = spec.retry or definition.defaults.retry or RetrySpec()
        out[fname] = {
            "name": fname,
            "uri": spec.uri,
            "scheme": scheme,
            "declared": declared,
            "host": host,
            "loopback": loopback,
            "method": method,
            "headers": sorted(spec.headers),
            "timeout": spec.timeout,
            "retry": retry_json(retry),
            "retry_count": retry_count(retry),
            "state_changing": state_changing,
            "idempotent": idempotent,
            "used_by": users,
            "written": raw if doc is not None else (spec.model_dump(mode="json")),
        }
    return out


def _state_context(
    plan: Plan, state: State, raw: Mapping[str, Any] | None, scope_id: str, depth: int
) -> dict[str, Any]:
    definition = plan.definition
    ctx: dict[str, Any] = state.model_dump(mode="json", by_alias=True)
    # Nested states are subjects of their own; keep their names only.
    if isinstance(state, MapState) and state.states is not None:
        ctx["states"] = [s.name for s in state.states]
    if isinstance(state, ParallelState):
        ctx["branches"] = [
            {"name": b.name, "states": [s.name for s in b.states]} for b in state.branches
        ]
    written: Any = raw if raw is not None else ctx
    action = getattr(state, "action", None)
    spec = _function_spec(definition, action) if isinstance(action, str) else None
    retry = getattr(state, "retry", None)
    retry = retry if isinstance(retry, RetrySpec) else None
    calls = isinstance(action, str) and bool(action)
    of = written.get("on_failure") if isinstance(written, dict) else None
    ctx.update(
        {
            "path": scope_id,
            "depth": depth,
            "written": written,
            "calls_function": calls,
            "retry": retry_json(retry),
            "retry_count": retry_count(retry),
            "retry_explicit": calls
            and (
                _written_in(written, "retry")
                or _written_in(of, "retry")
                or (spec is not None and spec.retry is not None)
                or definition.defaults.retry is not None
            ),
            "timeout_explicit": calls
            and (
                _written_in(written, "timeout")
                or (spec is not None and spec.timeout is not None)
                or definition.defaults.timeout is not None
            ),
            "max_concurrency_explicit": isinstance(state, MapState)
            and _written_in(written, "max_concurrency"),
            "has_compensation": getattr(state, "compensate", None) is not None,
        }
    )
    return ctx
