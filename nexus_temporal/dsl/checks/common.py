"""What every state check shares: the located issue, the action and URI checks, express limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nexus_temporal.dsl.errors import Code, DefinitionIssue, did_you_mean
from nexus_temporal.dsl.loader import Document
from nexus_temporal.dsl.plan import uri_scheme
from nexus_temporal.dsl.schema import Definition, FunctionSpec, MapState, State, TaskState
from nexus_temporal.dsl.targets import uri_problem as _scheme_problem

#: Express tasks are local activities: short calls only (see docs/dsl.md, "express mode").
EXPRESS_MAX_TIMEOUT = 60.0
_SCHEME_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def issue(
    doc: Document,
    path: tuple[Any, ...],
    message: str,
    *,
    state: str | None = None,
    hint: str | None = None,
    code: str = Code.INVALID,
    key: bool = False,
) -> DefinitionIssue:
    return DefinitionIssue(doc.location(path, key=key), message, state=state, hint=hint, code=code)


def get(data: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        data = data[p]
    return data


@dataclass
class StateCheck:
    """One state being checked: where it is, and where its problems and expressions go.

    A per-type check (``checks/<type>.py``) reports problems with :meth:`report` and
    :meth:`action`, and lists its JSONata fields with :meth:`expr`; the driver checks those.
    """

    doc: Document
    definition: Definition
    state: State
    #: The state's data path.
    path: tuple[Any, ...]
    issues: list[DefinitionIssue]
    exprs: list[tuple[tuple[Any, ...], Any]] = field(default_factory=list)

    def report(
        self,
        rel: tuple[Any, ...],
        message: str,
        *,
        code: str,
        hint: str | None = None,
        key: bool = False,
    ) -> None:
        self.issues.append(
            issue(
                self.doc,
                self.path + rel,
                message,
                state=self.state.name,
                hint=hint,
                code=code,
                key=key,
            )
        )

    def action(self, action: str, rel: tuple[Any, ...]) -> None:
        check_action(
            self.doc, self.definition, action, self.path + rel, self.state.name, self.issues
        )

    def expr(self, rel: tuple[Any, ...], template: Any) -> None:
        self.exprs.append((rel, template))

    def raw(self, rel: tuple[Any, ...] = ()) -> Any:
        """The state (or a part of it) as written."""
        return get(self.doc.data, self.path + rel)


#: A per-type check: ``check(state, ctx)``.
Check = Callable[[Any, StateCheck], None]


def check_express(ctx: StateCheck, state: TaskState | MapState) -> None:
    """Local activities hold a workflow task open while they retry, so they are for short calls:
    a longer timeout or a heartbeat is a definition error rather than a silent downgrade."""
    if state.mode != "express":
        return
    raw = ctx.raw()
    where = ("timeout",) if isinstance(raw, dict) and "timeout" in raw else ("mode",)
    if state.timeout is not None and state.timeout > EXPRESS_MAX_TIMEOUT:
        ctx.report(
            where,
            f"express tasks run as local activities and must finish within "
            f"{EXPRESS_MAX_TIMEOUT:g}s (timeout is {state.timeout:g}s)",
            code=Code.EXPRESS_TIMEOUT,
            key=where == ("mode",),
            hint="shorten the timeout, or give this task 'mode: regular'",
        )
    if isinstance(state, TaskState) and state.heartbeat is not None:
        ctx.report(
            (),
            "express tasks cannot heartbeat (local activities have no heartbeats)",
            code=Code.EXPRESS_HEARTBEAT,
            key=True,
            hint="remove 'heartbeat' (or defaults.heartbeat), or use 'mode: regular'",
        )


def check_action(
    doc: Document,
    definition: Definition,
    action: str,
    path: tuple[Any, ...],
    state: str,
    issues: list[DefinitionIssue],
) -> None:
    if action in definition.functions:
        return
    scheme = uri_scheme(action)
    if scheme:
        problem = uri_problem(action)
        if problem:
            issues.append(
                issue(doc, path, problem[0], state=state, hint=problem[1], code=Code.BAD_URI)
            )
        return
    if definition.functions:
        hint = did_you_mean(action, definition.functions) or (
            f"declare it under 'functions:' (declared: {', '.join(definition.functions)})"
        )
        issues.append(
            issue(
                doc,
                path,
                f"action '{action}' names no function",
                state=state,
                hint=hint,
                code=Code.UNKNOWN_FUNCTION,
            )
        )


def uri_problem(uri: str) -> tuple[str, str] | None:
    """(message, hint) when ``uri`` is not a valid target URI (nexus_temporal.dsl.targets)."""
    return _scheme_problem(uri_scheme(uri) or uri.split(":", 1)[0], uri)


def check_functions(doc: Document, definition: Definition, issues: list[DefinitionIssue]) -> None:
    for name, fn in definition.functions.items():
        uri = fn.uri if isinstance(fn, FunctionSpec) else fn
        path: tuple[Any, ...] = ("functions", name) + (
            ("uri",) if isinstance(fn, FunctionSpec) else ()
        )
        if not _SCHEME_LIKE.match(uri):
            issues.append(
                issue(
                    doc,
                    path,
                    f"function '{name}': '{uri}' is not a URI",
                    hint="write python:module:function, https://... or activity:TYPE",
                    code=Code.BAD_URI,
                )
            )
            continue
        problem = uri_problem(uri)
        if problem:
            issues.append(
                issue(
                    doc,
                    path,
                    f"function '{name}': {problem[0]}",
                    hint=problem[1],
                    code=Code.BAD_URI,
                )
            )
        elif isinstance(fn, FunctionSpec) and not uri.startswith("aws-lambda:"):
            for option in ("region", "qualifier"):
                if getattr(fn, option) is not None:
                    issues.append(
                        issue(
                            doc,
                            ("functions", name, option),
                            f"function '{name}': '{option}' applies only to aws-lambda: targets",
                            hint=f"remove '{option}'",
                            code=Code.INVALID_VALUE,
                            key=True,
                        )
                    )
