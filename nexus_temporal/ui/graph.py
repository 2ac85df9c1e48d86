"""A definition's graph for the browser: nodes and edges in Cytoscape.js's element format.

Nodes are the states of every scope; a parallel state's branches and a map's item states are
drawn inside a box (a compound node) under their state. Edges: ``next`` (a transition),
``choice`` and ``default`` (a choice's rules), ``catch`` (an error routed to a state),
``branch``/``item`` (a parallel state or a map to the first state of its nested scope) and
``compensate`` (a state to the node of the action that undoes it). Layout is left to the page
(dagre, vendored in ``static/vendor``).
"""

from __future__ import annotations

from typing import Any

from nexus_temporal.dsl.plan import Plan, Scope
from nexus_temporal.dsl.schema import ChoiceState, CompensationSpec, State


def node_id(name: str) -> str:
    return f"s:{name}"


def compensation_id(name: str) -> str:
    return f"c:{name}"


def plan_graph(plan: Plan) -> dict[str, list[dict[str, Any]]]:
    """``{"nodes": [{data: ...}], "edges": [{data: ...}]}`` for the whole plan."""
    nodes: list[dict[str, Any]] = [{"data": {"id": "start", "label": "", "kind": "start"}}]
    edges: list[dict[str, Any]] = []
    _edge(edges, "start", node_id(plan.root.start), "next")
    _scope(plan, plan.root, None, nodes, edges)
    return {"nodes": nodes, "edges": edges}


def _edge(
    edges: list[dict[str, Any]], source: str, target: str, kind: str, label: str = ""
) -> None:
    edges.append(
        {
            "data": {
                "id": f"e{len(edges)}",
                "source": source,
                "target": target,
                "kind": kind,
                "label": label,
            }
        }
    )


def _scope(
    plan: Plan,
    scope: Scope,
    parent: str | None,
    nodes: list[dict[str, Any]],
    edges: list[dict[str, Any]],
) -> None:
    for state in scope.states.values():
        sid = node_id(state.name)
        data: dict[str, Any] = {
            "id": sid,
            "label": state.name,
            "state": state.name,
            "type": state.type,
            "kind": "state",
            "action": getattr(state, "action", None) or "",
        }
        if parent:
            data["parent"] = parent
        nodes.append({"data": data})
        for child in state.children():
            sub = plan.scopes[f"{state.name}/{child.key}"]
            box = f"b:{state.name}/{child.key}"
            label = f"{child.key} (each item)" if child.kind == "item" else child.key
            box_data: dict[str, Any] = {"id": box, "label": label, "kind": "scope"}
            if parent:
                box_data["parent"] = parent
            nodes.append({"data": box_data})
            _scope(plan, sub, box, nodes, edges)
            _edge(edges, sid, node_id(sub.start), child.kind)
        _transitions(state, edges)
        compensation = getattr(state, "compensate", None)
        if isinstance(compensation, CompensationSpec):
            cid = compensation_id(state.name)
            comp: dict[str, Any] = {
                "id": cid,
                "label": f"undo: {compensation.action}",
                "state": state.name,
                "kind": "compensation",
            }
            if parent:
                comp["parent"] = parent
            nodes.append({"data": comp})
            _edge(edges, sid, cid, "compensate")


def _transitions(state: State, edges: list[dict[str, Any]]) -> None:
    sid = node_id(state.name)
    if state.next:
        _edge(edges, sid, node_id(state.next), "next")
    if isinstance(state, ChoiceState):
        for rule in state.choices:
            _edge(edges, sid, node_id(rule.next), "choice", rule.when)
        if state.default:
            _edge(edges, sid, node_id(state.default), "default", "default")
    for c in getattr(state, "catch", ()):
        _edge(edges, sid, node_id(c.next), "catch", "catch " + ", ".join(c.errors))


def observed_graph(entered: list[str], types: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Without the definition: the states history shows, linked in the order entered."""
    nodes: list[dict[str, Any]] = [{"data": {"id": "start", "label": "", "kind": "start"}}]
    edges: list[dict[str, Any]] = []
    seen: list[str] = []
    pairs: set[tuple[str, str]] = set()
    previous = "start"
    for name in entered:
        if name not in seen:
            seen.append(name)
            nodes.append(
                {
                    "data": {
                        "id": node_id(name),
                        "label": name,
                        "state": name,
                        "type": types.get(name, ""),
                        "kind": "state",
                        "action": "",
                    }
                }
            )
        pair = (previous, node_id(name))
        if pair not in pairs and pair[0] != pair[1]:
            pairs.add(pair)
            _edge(edges, *pair, "next")
        previous = node_id(name)
    return {"nodes": nodes, "edges": edges}
