"""Checks of a ``map`` state (its item states are a scope, checked by the compiler's driver)."""

from __future__ import annotations

import re

from nexus_temporal.dsl.checks.common import StateCheck, check_express
from nexus_temporal.dsl.errors import Code
from nexus_temporal.dsl.schema import MapState

MODEL = MapState
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


def tolerated(spec: int | str, total: int) -> int:
    """How many failed items a map tolerates out of ``total``."""
    if isinstance(spec, int):
        return spec
    match = _PERCENT.match(spec.strip())
    assert match, spec
    return int(total * float(match.group(1)) / 100.0)


def check(state: MapState, ctx: StateCheck) -> None:
    check_express(ctx, state)

    def problem(rel: tuple[object, ...], message: str, hint: str, key: bool = False) -> None:
        ctx.report(rel, message, hint=hint, code=Code.MAP, key=key)

    if (state.items is None) == (state.item_source is None):
        problem(
            (),
            "a map state needs exactly one of 'items' or 'item_source'",
            "e.g. 'items: order.lines' or 'item_source: data/items.jsonl'",
            key=True,
        )
    if (state.action is None) == (state.states is None):
        problem(
            (),
            "a map state needs exactly one of 'action' or 'states'",
            "'action' calls one function per item (or batch); 'states' runs a sequence",
            key=True,
        )
    if state.action is not None:
        ctx.action(state.action, ("action",))
    if state.batch > 1 and state.states is not None:
        problem(
            ("batch",),
            "'batch' applies only to a map with an 'action'",
            "remove 'batch', or call one action per batch of items",
        )
    tol = state.tolerated_failures
    if (
        isinstance(tol, int)
        and tol < 0
        or isinstance(tol, str)
        and not (_PERCENT.match(tol.strip()) and float(tol.strip()[:-1]) <= 100)
    ):
        problem(
            ("tolerated_failures",),
            f"'{tol}' is not a failure tolerance",
            "write a count such as 10, or a percentage such as '5%'",
        )
    if state.result_store is not None and state.results != "store":
        problem(
            ("result_store",),
            "'result_store' is used only with 'results: store'",
            "add 'results: store', or remove 'result_store'",
        )
    source = state.item_source
    path = source if isinstance(source, str) else source.path if source else None
    fmt = None if isinstance(source, str) or source is None else source.format
    if path is not None and fmt is None and not path.lower().endswith((".json", ".jsonl", ".csv")):
        problem(
            ("item_source",),
            f"cannot tell the format of '{path}'",
            "name a .json, .jsonl or .csv file, or give 'format:'",
        )
    ctx.expr(("items",), state.items)
    ctx.expr(("input",), state.input)
    ctx.expr(("assign",), state.assign)
    ctx.expr(("output",), state.output)
