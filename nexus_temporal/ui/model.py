"""The execution view: each state's status, visits, calls and map progress (no I/O).

:func:`execution_view` is what ``GET /api/executions/{workflow_id}`` answers (docs/ui.md):
built from the history of the runs (:mod:`nexus_temporal.ui.events`), the pinned plan when the
definitions are at hand (the graph and each state's type), and the ``nexus_state`` query when a
worker answers it (live map progress, the states running now, pending compensations).

A state's ``status``:

- ``not_reached``: never entered;
- ``running``: entered and not finished while the execution runs;
- ``failed``: the state the execution failed in (a call failed and nothing caught it, or a
  ``fail`` state);
- ``caught``: a call failed for good and a ``catch`` rule went on elsewhere;
- ``compensated``: its compensation ran (``compensation_failed`` if that failed);
- ``succeeded``: otherwise.
"""

from __future__ import annotations

from typing import Any

from nexus_temporal.dsl.plan import Plan
from nexus_temporal.ui.events import Call, Recorded, Visit, iso, shard_range
from nexus_temporal.ui.graph import observed_graph, plan_graph

STATUSES = (
    "not_reached",
    "running",
    "succeeded",
    "failed",
    "caught",
    "compensated",
    "compensation_failed",
)


def _duration_ms(visit: Visit) -> int | None:
    if visit.ended_at is None:
        return None
    return int((visit.ended_at - visit.entered_at).total_seconds() * 1000)


def _visit_json(visit: Visit) -> dict[str, Any]:
    calls = visit.calls
    last_done = next((c for c in reversed(calls) if c.status == "completed"), None)
    failed = next((c for c in reversed(calls) if c.status == "failed"), None)
    return {
        "visit": visit.number,
        "entered_at": iso(visit.entered_at),
        "ended_at": iso(visit.ended_at),
        "duration_ms": _duration_ms(visit),
        "input": calls[0].input if calls else None,
        "output": last_done.output if last_done else None,
        "error": failed.error if failed and (last_done is None or failed is calls[-1]) else None,
        "attempts": sum(c.attempts for c in calls),
        "calls": [c.to_json() for c in calls],
    }


def _failed_state(rec: Recorded) -> str | None:
    if rec.status == "running" or rec.error is None:
        return None
    details = rec.error.get("details")
    if isinstance(details, dict) and isinstance(details.get("state"), str):
        return str(details["state"])
    return rec.entered[-1] if rec.entered else None


def _map_progress(
    visits: list[Visit], calls: list[Call], live: dict[str, Any] | None, finished: bool
) -> dict[str, Any]:
    """Items done and failed: from the ``nexus_state`` query when live, else counted from
    the item calls (``X[i]``) and the shards' results in history (None when history holds
    neither: a map of item states run inline)."""
    items: dict[tuple[int, int], str] = {}
    shards = []
    done = failed = 0
    for call in calls:
        if call.role == "item" and call.index is not None:
            visit = max((v.number for v in visits if v.event_id < call.event_id), default=0)
            items[(visit, call.index)] = call.status
        elif call.role == "shard":
            span = shard_range(call.label)
            result = call.output if isinstance(call.output, dict) else {}
            count, bad = int(result.get("count") or 0), int(result.get("failed") or 0)
            if call.status == "completed":
                done += count - bad
                failed += bad
            shards.append(
                {
                    "workflow_id": call.child_id,
                    "run_id": call.child_run_id,
                    "items": list(span) if span else None,
                    "status": call.status,
                    "done": count - bad if call.status == "completed" else None,
                    "failed": bad if call.status == "completed" else None,
                }
            )
    done += sum(1 for s in items.values() if s == "completed")
    failed += sum(1 for s in items.values() if s == "failed")
    total: int | None = done + failed if finished else None
    source = "history"
    counts: tuple[int | None, int | None] = (done, failed)
    if not items and not shards:
        counts, total, source = (None, None), None, "none"
    if live is not None:
        counts = (int(live.get("done") or 0), int(live.get("failed") or 0))
        total = int(live["total"]) if "total" in live else total
        source = "query"
    return {
        "done": counts[0],
        "failed": counts[1],
        "total": total,
        "running": sum(1 for s in items.values() if s == "running"),
        "shards": shards,
        "source": source,
    }


def _status(
    name: str,
    visits: list[Visit],
    rec: Recorded,
    comp: Call | None,
    failed_state: str | None,
    current: set[str],
    is_map: bool,
    own: list[Call],
) -> str:
    if not visits:
        return "not_reached"
    if comp is not None:
        return "compensated" if comp.status == "completed" else "compensation_failed"
    if name == failed_state:
        return "failed"
    running = rec.status == "running"
    if running and name in current:
        return "running"
    last = visits[-1]
    if running and any(c.status == "running" for c in last.calls + own):
        return "running"
    if not is_map and any(c.status == "failed" for v in visits for c in v.calls):
        last_call = last.calls[-1] if last.calls else None
        if last_call is not None and last_call.status == "failed":
            return "caught"
    return "succeeded"


def execution_view(
    workflow_id: str,
    runs: list[str],
    rec: Recorded,
    plan: Plan | None = None,
    query: dict[str, Any] | None = None,
    web_ui: str | None = None,
) -> dict[str, Any]:
    """The JSON document of one logical execution (docs/ui.md)."""
    pin = rec.pin or {}
    if query and query.get("definition"):
        pin = {
            "name": str(query["definition"]),
            "version": str(query.get("version") or pin.get("version", "")),
            "hash": str(query.get("hash") or pin.get("hash", "")),
        }
    types: dict[str, str] = {}
    actions: dict[str, str] = {}
    order: list[str] = []
    scopes: dict[str, str] = {}
    if plan is not None:
        for scope in plan.scopes.values():
            for state in scope.states.values():
                types[state.name] = state.type
                actions[state.name] = getattr(state, "action", None) or ""
                scopes[state.name] = scope.id
                order.append(state.name)
    for name in rec.entered + [c.state for c in rec.calls if c.role != "compensate"]:
        if name not in order:
            order.append(name)
    if plan is None:
        for call in rec.calls:
            if call.role in ("item", "shard", "map"):
                types.setdefault(call.state, "map")
    current = set(query.get("current") or []) if query else set()
    if not query and rec.status == "running" and rec.entered:
        current = {rec.entered[-1]}
    failed_state = _failed_state(rec)
    compensations = [c for c in rec.calls if c.role == "compensate"]
    comp_of = {c.state: c for c in compensations}
    live_maps = (query or {}).get("maps") or {}
    states = []
    for name in order:
        visits = rec.visits_of(name)
        is_map = types.get(name) == "map"
        own = [c for c in rec.calls if c.state == name and c.role in ("item", "shard")]
        entry: dict[str, Any] = {
            "name": name,
            "type": types.get(name, ""),
            "scope": scopes.get(name, ""),
            "action": actions.get(name, ""),
            "status": _status(
                name, visits, rec, comp_of.get(name), failed_state, current, is_map, own
            ),
            "visits": len(visits),
            "attempts": sum(c.attempts for v in visits for c in v.calls),
            "history": [_visit_json(v) for v in visits],
        }
        if is_map:
            finished = rec.status != "running" or (bool(visits) and name not in current)
            entry["map"] = _map_progress(visits, own, live_maps.get(name), finished)
        children = [c for v in visits for c in v.calls if c.kind == "child" and c.role == "call"]
        if children:
            entry["children"] = [
                {"workflow_id": c.child_id, "run_id": c.child_run_id, "status": c.status}
                for c in children
            ]
        if name in comp_of:
            entry["compensation"] = comp_of[name].to_json()
        states.append(entry)
    status = rec.status
    if status == "running" and query and query.get("status") == "compensating":
        status = "compensating"
    view: dict[str, Any] = {
        "workflow_id": workflow_id,
        "run_id": runs[-1] if runs else None,
        "runs": runs,
        "definition": pin.get("name"),
        "version": pin.get("version"),
        "hash": pin.get("hash"),
        "status": status,
        "started_at": iso(rec.started_at),
        "closed_at": iso(rec.closed_at),
        "input": rec.workflow_input,
        "result": rec.result,
        "error": rec.error,
        "failed_state": failed_state,
        "current": sorted(current) if rec.status == "running" else [],
        "states": states,
        "compensations": [
            {
                "state": c.state,
                "action": c.what,
                "status": c.status,
                "at": iso(c.closed_at or c.scheduled_at),
                "error": c.error,
            }
            for c in compensations
        ],
        "pending_compensations": (query or {}).get("pending_compensations") or [],
        "live": query is not None,
        "graph": plan_graph(plan) if plan is not None else observed_graph(rec.entered, types),
        "graph_source": "definition" if plan is not None else "history",
    }
    if web_ui:
        view["web_ui"] = web_ui
    return view
