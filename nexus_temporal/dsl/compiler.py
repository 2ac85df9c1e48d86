"""Check a parsed definition and compile it into an immutable :class:`Plan`.

Every problem is reported with file:line:column, the state it concerns and a one-line hint; all
problems are collected before raising so a user fixes them in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from nexus_temporal.dsl.checks import TERMINAL_TYPES, StateCheck, check_state
from nexus_temporal.dsl.checks.common import check_functions
from nexus_temporal.dsl.checks.common import issue as _issue
from nexus_temporal.dsl.checks.map import tolerated as tolerated  # the interpreter's map uses it
from nexus_temporal.dsl.errors import Code, DefinitionError, DefinitionIssue, did_you_mean
from nexus_temporal.dsl.loader import Document, load_yaml_file, load_yaml_text
from nexus_temporal.dsl.normalise import DEFAULT_TIMEOUT, normalise
from nexus_temporal.dsl.plan import Plan, Scope, content_hash, freeze
from nexus_temporal.dsl.schema import (
    STATE_MODEL_BY_TYPE,
    STATE_TYPES,
    Branch,
    BreakerSpec,
    CatchSpec,
    ChoiceRule,
    ChoiceState,
    CompensationSpec,
    Defaults,
    Definition,
    FunctionSpec,
    OnFailure,
    RetrySpec,
    State,
)


def compile_file(path: str | Path) -> Plan:
    """Load, check and compile a definition file."""
    return compile_document(load_yaml_file(path))


def compile_text(text: str, file: str = "<input>") -> Plan:
    """Load, check and compile definition text (``file`` names it in errors)."""
    return compile_document(load_yaml_text(text, file))


def compile_document(doc: Document) -> Plan:
    issues: list[DefinitionIssue] = []
    if not isinstance(doc.data, dict):
        raise DefinitionError(
            [
                _issue(
                    doc,
                    (),
                    "a definition must be a YAML mapping with 'name' and 'states'",
                    hint="start the file with 'name: my-workflow'",
                    code=Code.SHAPE,
                )
            ]
        )
    bad: set[tuple[Any, ...]] = set()  # the states whose type is missing or unknown
    _check_state_types(doc, doc.data.get("states"), ("states",), issues, bad)
    try:
        definition = Definition.model_validate(doc.data)
    except ValidationError as exc:
        # Report what else is wrong in the same pass: the schema errors outside the states
        # already reported, then what can be checked without a valid definition.
        issues += _pydantic_issues(doc, exc, skip=bad)
        issues += _salvage(doc, exc, bad, issues)
        raise DefinitionError(_sorted_unique(issues)) from None
    definition = normalise(definition)
    scopes: dict[str, Scope] = {}
    _check_scope(
        doc,
        definition,
        "",
        definition.states,
        ("states",),
        definition.start_at,
        scopes,
        issues,
        seen={},
    )
    check_functions(doc, definition, issues)
    if issues:
        raise DefinitionError(_sorted_unique(issues))
    return Plan(
        definition=definition,
        hash=content_hash(definition),
        source=doc.file,
        scopes=MappingProxyType(scopes),
    )


def _full_checks(doc: Document, definition: Definition) -> list[DefinitionIssue]:
    """The graph, state, JSONata and function checks of a definition the schema accepted."""
    issues: list[DefinitionIssue] = []
    definition = normalise(definition)
    _check_scope(
        doc, definition, "", definition.states, ("states",), definition.start_at, {}, issues, {}
    )
    check_functions(doc, definition, issues)
    return issues


def _sorted_unique(issues: list[DefinitionIssue]) -> list[DefinitionIssue]:
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: (i.location.line, i.location.column))


# --- after a schema failure: what can still be checked without noise ---------------------------

_EDGE_ISSUES = (Code.UNREACHABLE, Code.NO_END)


def _salvage(
    doc: Document,
    exc: ValidationError,
    bad: set[tuple[Any, ...]],
    reported: list[DefinitionIssue],
) -> list[DefinitionIssue]:
    """Issues found in spite of a schema failure.

    When the schema's only complaints are unknown fields, the definition without them is
    checked in full (graph, states, JSONata, functions); an unknown field inside a state may be
    a misspelt ``next`` or ``catch``, so reachability and endless-loop issues, which would
    follow from it, are then left out. Otherwise every state that is valid on its own has its
    JSONata checked.
    """
    errors = exc.errors()
    if not bad and all(i.code == Code.UNKNOWN_FIELD for i in reported):
        extra = [
            _data_path(doc.data, e["loc"])[0] for e in errors if e["type"] == "extra_forbidden"
        ]
        repaired = _without(doc.data, extra)
        try:
            definition = Definition.model_validate(repaired)
        except ValidationError:
            pass
        else:
            rdoc = Document(doc.file, repaired, doc.keys, doc.values)
            found = _full_checks(rdoc, definition)
            if any(p and p[0] == "states" for p in extra):
                found = [i for i in found if i.code not in _EDGE_ISSUES]
            return found
    issues: list[DefinitionIssue] = []
    _state_exprs(doc, doc.data.get("states"), ("states",), bad, issues)
    return issues


def _without(data: Any, paths: list[tuple[Any, ...]]) -> Any:
    """A deep copy of ``data`` without the keys at ``paths`` (list indices stay as written, so
    the loader's positions still apply)."""
    import copy

    out = copy.deepcopy(data)
    for path in paths:
        node = out
        try:
            for part in path[:-1]:
                node = node[part]
            del node[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return out


_PLACEHOLDER: Definition | None = None


def _state_exprs(
    doc: Document,
    states: Any,
    path: tuple[Any, ...],
    bad: set[tuple[Any, ...]],
    issues: list[DefinitionIssue],
) -> None:
    """The JSONata issues of every state that is valid on its own (children included)."""
    global _PLACEHOLDER
    if not isinstance(states, list):
        return
    if _PLACEHOLDER is None:
        _PLACEHOLDER = Definition.model_validate(
            {"name": "-", "states": [{"name": "-", "type": "succeed"}]}
        )
    for i, raw in enumerate(states):
        spath = path + (i,)
        if not isinstance(raw, dict) or spath in bad or raw.get("type") not in STATE_TYPES:
            continue
        model = STATE_MODEL_BY_TYPE[raw["type"]]
        for children, rel in model.written_children(raw):
            _state_exprs(doc, children, spath + rel, bad, issues)
        try:
            state: Any = model.model_validate(raw)
        except ValidationError:
            continue
        scratch: list[DefinitionIssue] = []
        ctx = StateCheck(doc, _PLACEHOLDER, state, spath, scratch)
        try:
            check_state(ctx)
        except Exception:  # a check that needs the whole definition: nothing more to say
            continue
        issues.extend(i for i in scratch if i.code == Code.JSONATA)


# --- shape checks that must run before pydantic, for precise messages -------------------------


def _check_state_types(
    doc: Document,
    states: Any,
    path: tuple[Any, ...],
    issues: list[DefinitionIssue],
    bad: set[tuple[Any, ...]] | None = None,
) -> None:
    if not isinstance(states, list):
        return
    for i, raw in enumerate(states):
        if not isinstance(raw, dict):
            continue
        name = raw.get("name") if isinstance(raw.get("name"), str) else None
        kind = raw.get("type")
        if kind is None:
            if "action" in raw:
                raw["type"] = "task"
            else:
                issues.append(
                    _issue(
                        doc,
                        path + (i,),
                        "state has no 'type'",
                        state=name,
                        hint=f"add 'type:' (one of {', '.join(STATE_TYPES)}) or "
                        "an 'action:' for a task",
                        code=Code.MISSING_TYPE,
                        key=True,
                    )
                )
                if bad is not None:
                    bad.add(path + (i,))
                continue
        elif kind not in STATE_TYPES:
            hint = did_you_mean(str(kind), STATE_TYPES) or f"use one of {', '.join(STATE_TYPES)}"
            issues.append(
                _issue(
                    doc,
                    path + (i, "type"),
                    f"unknown state type '{kind}'",
                    state=name,
                    hint=hint,
                    code=Code.UNKNOWN_TYPE,
                )
            )
            if bad is not None:
                bad.add(path + (i,))
            continue
        for states_written, rel in STATE_MODEL_BY_TYPE[raw["type"]].written_children(raw):
            _check_state_types(doc, states_written, path + (i, *rel), issues, bad)


_MODEL_FIELDS: dict[str, set[str]] = {}


def _pydantic_issues(
    doc: Document,
    exc: ValidationError,
    skip: set[tuple[Any, ...]] = frozenset(),  # type: ignore[assignment]
) -> list[DefinitionIssue]:
    """The schema's errors, one per place; ``skip``: states already reported (and their
    insides), whose schema errors would only repeat that."""

    def _what(err: Any) -> str:
        shapes = {
            "RetrySpec": "a retry mapping such as {max_attempts: 3}",
            "Defaults": "a mapping of defaults such as {timeout: 30s}",
            "BreakerSpec": "a circuit_breaker mapping such as {failure_rate: 50}",
            "FunctionSpec": "a function URI, or a mapping such as {uri: 'python:mod:fn'}",
            "CompensationSpec": "a compensation mapping such as {action: refund}",
            "CatchSpec": "a catch mapping such as {errors: [Timeout], next: Handle}",
            "ChoiceRule": "a choice rule such as {when: 'x > 1', next: Big}",
            "Branch": "a branch mapping with 'states'",
        }
        name = str((err.get("ctx") or {}).get("class_name", ""))
        if name.endswith("State"):
            return "a state mapping with 'name' and 'type'"
        return shapes.get(name, "a mapping")

    def _yaml_kind(value: Any) -> str:
        kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
        kinds.update({list: "a list", dict: "a mapping", type(None): "null"})
        return kinds.get(type(value), type(value).__name__)

    best: dict[tuple[Any, ...], DefinitionIssue] = {}
    for err in exc.errors():
        path, raw_parent, leftover = _data_path(doc.data, err["loc"])
        if any(path[: len(s)] == s for s in skip):
            continue
        if err["type"] == "too_short" and any(s[: len(path)] == path for s in skip):
            continue  # a list left empty by dropping the states already reported
        state = _state_name(doc.data, path)
        kind = err["type"]
        if kind == "extra_forbidden":
            field = str(path[-1])
            allowed = _allowed_fields(err["loc"], raw_parent)
            hint = did_you_mean(field, allowed) if allowed else None
            if not hint and allowed:
                hint = f"allowed fields here: {', '.join(sorted(allowed))}"
            issue = _issue(
                doc,
                path,
                f"unknown field '{field}'",
                state=state,
                hint=hint,
                code=Code.UNKNOWN_FIELD,
                key=True,
            )
        elif kind == "missing":
            field = str(leftover[-1]) if leftover else str(err["loc"][-1])
            issue = _issue(
                doc,
                path,
                f"missing required field '{field}'",
                state=state,
                hint=f"add '{field}:'",
                code=Code.MISSING_FIELD,
                key=True,
            )
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if kind in ("model_type", "model_attributes_type") or "instance of " in msg:
                # Not pydantic's "instance of RetrySpec": what the YAML should look like.
                msg = f"expected {_what(err)}, got {_yaml_kind(err.get('input'))}"
            where = ".".join(str(p) for p in path) or "definition"
            issue = _issue(
                doc,
                path,
                f"invalid value for '{where}': {msg}",
                state=state,
                code=Code.INVALID_VALUE,
            )
        key = path
        old = best.get(key)
        # Union members each report an error; keep the most specific (unknown field > other).
        if old is None or (issue.code == Code.UNKNOWN_FIELD and old.code != Code.UNKNOWN_FIELD):
            best[key] = issue
    # Drop parent errors when a child error exists (union fallbacks report both).
    keys = list(best)
    result = [
        issue for k, issue in best.items() if not any(o != k and o[: len(k)] == k for o in keys)
    ]
    return sorted(result, key=lambda i: (i.location.line, i.location.column))


def _data_path(data: Any, loc: Sequence[Any]) -> tuple[tuple[Any, ...], Any, tuple[Any, ...]]:
    """Map a pydantic error location onto a path into the raw data (dropping union tags)."""
    path: list[Any] = []
    node = data
    parent = data
    leftover: list[Any] = []
    for part in loc:
        if isinstance(node, dict) and part in node:
            parent = node
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            parent = node
            path.append(part)
            node = node[part]
        else:
            leftover.append(part)
    if leftover and isinstance(node, dict) and isinstance(leftover[-1], str):
        # 'missing' fields: point at the mapping that lacks them.
        parent = node
    return tuple(path), parent, tuple(leftover)


_STATE_MODELS: dict[str, type[BaseModel]] = dict(STATE_MODEL_BY_TYPE)
# Models as pydantic names them in error locations (union members), and by the field holding them.
_NAMED: tuple[type[BaseModel], ...] = (
    Definition,
    Defaults,
    OnFailure,
    RetrySpec,
    CompensationSpec,
    CatchSpec,
    ChoiceRule,
    Branch,
    FunctionSpec,
    *_STATE_MODELS.values(),
)
_MODELS_BY_NAME: dict[str, type[BaseModel]] = {m.__name__: m for m in _NAMED}
_MODELS_BY_FIELD: dict[str, type[BaseModel]] = {
    "defaults": Defaults,
    "on_failure": OnFailure,
    "retry": RetrySpec,
    "compensate": CompensationSpec,
    "catch": CatchSpec,
    "choices": ChoiceRule,
    "branches": Branch,
    "functions": FunctionSpec,
    "circuit_breaker": BreakerSpec,
}


def _allowed_fields(loc: Sequence[Any], raw_parent: Any) -> list[str]:
    """The fields allowed where an unknown one was found, for a did-you-mean hint."""
    model: type[BaseModel] | None = None
    if isinstance(raw_parent, dict) and raw_parent.get("type") in STATE_TYPES:
        model = _STATE_MODELS[raw_parent["type"]]
    else:
        for part in reversed(list(loc)[:-1]):
            if isinstance(part, str):
                model = _MODELS_BY_NAME.get(part) or _MODELS_BY_FIELD.get(part)
                if model is not None:
                    break
        if model is None and len(loc) == 1:
            model = Definition
    if model is None:
        return []
    fields = [info.alias or name for name, info in model.model_fields.items()]
    # Fields the model accepts but the checks reject for this state type are no hint.
    if isinstance(raw_parent, dict) and raw_parent.get("type") in ("choice", *TERMINAL_TYPES):
        fields = [f for f in fields if f != "next"]
    return fields


def _state_name(data: Any, path: tuple[Any, ...]) -> str | None:
    node = data
    name = None
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and isinstance(node.get("name"), str) and "type" in node:
            name = node["name"]
    return name


def _targets(state: State) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every state name a state may go to, with the relative data path naming it."""
    if state.next:
        yield state.next, ("next",)
    if isinstance(state, ChoiceState):
        for i, rule in enumerate(state.choices):
            yield rule.next, ("choices", i, "next")
        if state.default:
            yield state.default, ("default",)
    for i, c in enumerate(getattr(state, "catch", ()) or ()):
        yield c.next, ("catch", i, "next")


def _ends(state: State) -> bool:
    if state.type in TERMINAL_TYPES:
        return True
    if isinstance(state, ChoiceState):
        return state.default is None
    return state.next is None


def _check_scope(
    doc: Document,
    definition: Definition,
    scope_id: str,
    states: Sequence[State],
    path: tuple[Any, ...],
    start: str | None,
    scopes: dict[str, Scope],
    issues: list[DefinitionIssue],
    seen: dict[str, tuple[Any, ...]],
) -> None:
    by_name: dict[str, State] = {}
    paths: dict[str, tuple[Any, ...]] = {}
    for i, state in enumerate(states):
        spath = path + (i,)
        if state.name in seen:
            first = doc.location(seen[state.name] + ("name",))
            issues.append(
                _issue(
                    doc,
                    spath + ("name",),
                    f"duplicate state name '{state.name}'",
                    state=state.name,
                    code=Code.DUPLICATE_STATE,
                    hint=f"state names must be unique; first defined at {first}",
                )
            )
            continue
        seen[state.name] = spath
        by_name[state.name] = state
        paths[state.name] = spath
    start_name = start or (states[0].name if states else "")
    if start and start not in by_name:
        issues.append(
            _issue(
                doc,
                ("start_at",),
                f"start_at names unknown state '{start}'",
                hint=did_you_mean(start, by_name),
                code=Code.UNKNOWN_STATE,
            )
        )
        return
    scopes[scope_id] = Scope(id=scope_id, start=start_name, states=freeze(by_name))
    for name, state in by_name.items():
        spath = paths[name]
        for target, rel in _targets(state):
            if target not in by_name:
                where = "this branch" if scope_id else "this workflow"
                hint = did_you_mean(target, by_name) or (
                    f"add a state named '{target}' to {where}, or fix the name"
                )
                issues.append(
                    _issue(
                        doc,
                        spath + rel,
                        f"'{rel[0]}' goes to '{target}', which is not a state of {where}",
                        state=name,
                        hint=hint,
                        code=Code.UNKNOWN_STATE,
                    )
                )
        check_state(StateCheck(doc, definition, state, spath, issues))
        for child in state.children():
            _check_scope(
                doc,
                definition,
                f"{name}/{child.key}",
                child.states,
                spath + child.path,
                None,
                scopes,
                issues,
                seen,
            )
    # Reachability from the start, and a path to an end from every reachable state.
    reach: set[str] = set()
    todo = [start_name]
    while todo:
        cur = todo.pop()
        if cur in reach or cur not in by_name:
            continue
        reach.add(cur)
        todo.extend(t for t, _ in _targets(by_name[cur]))
    for name in by_name:
        if name not in reach:
            issues.append(
                _issue(
                    doc,
                    paths[name] + ("name",),
                    f"state '{name}' is unreachable from the start '{start_name}'",
                    state=name,
                    code=Code.UNREACHABLE,
                    hint="point a 'next' at it, or remove it",
                )
            )
    # A state that goes to an unknown name already has an error; don't also call it endless.
    can_end = {
        n for n, s in by_name.items() if _ends(s) or any(t not in by_name for t, _ in _targets(s))
    }
    changed = True
    while changed:
        changed = False
        for n, s in by_name.items():
            if n not in can_end and any(t in can_end for t, _ in _targets(s)):
                can_end.add(n)
                changed = True
    for name in sorted(reach - can_end, key=lambda n: paths[n]):
        issues.append(
            _issue(
                doc,
                paths[name] + ("name",),
                f"state '{name}' has no path to an end: the workflow would loop forever",
                state=name,
                code=Code.NO_END,
                hint="give the loop an exit: a choice rule or 'default' that "
                "leaves it, or a state without 'next'",
            )
        )


def compile_many(paths: Sequence[str | Path]) -> tuple[list[Plan], list[DefinitionIssue]]:
    """Compile several files, collecting every file's issues instead of stopping at the first."""
    plans: list[Plan] = []
    issues: list[DefinitionIssue] = []
    for p in paths:
        try:
            plans.append(compile_file(p))
        except DefinitionError as exc:
            issues.extend(exc.issues)
    return plans, issues


__all__ = ["compile_file", "compile_text", "compile_document", "compile_many", "DEFAULT_TIMEOUT"]
