"""Failure correlation between functions (or states) from recorded executions.

For every ordered pair (A, B) it estimates ``P(B fails | A failed within the window before)``
and compares it with B's base rate ``P(B fails)``: ``lift`` is their ratio. Counts come with
each edge so a reader can judge them: ``n_a`` failures of A, ``n_b`` failures of B, ``total``
calls of B, ``exposed`` calls of B with an A failure in the window before them, ``n_ab`` of
those that failed, and a one-sided binomial ``p_value`` (how likely that many failures among the
exposed calls would be at B's base rate). An edge is reported when ``n_ab >= min_support``,
``lift > 1`` and ``p_value <= alpha``, strongest (highest lift) first.

Observations come from Temporal histories (one per activity: its function or state, its close
time, and whether any attempt failed — a retried activity counts as failed, since Temporal
records only its last attempt) or from the simulator's traces.
"""

from __future__ import annotations

import bisect
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

__all__ = [
    "Edge",
    "Observation",
    "correlate",
    "observations_from_history",
    "observations_from_trace",
    "to_mermaid",
]

INVOKE = "nexus.invoke"


@dataclass(frozen=True)
class Observation:
    """One call: in which execution, of what (``node``), when it ended, whether it failed."""

    execution: str
    node: str
    time: float
    failed: bool


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    n_a: int
    n_b: int
    total: int
    exposed: int
    n_ab: int
    p_b_given_a: float
    p_b: float
    lift: float
    p_value: float

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["from"], out["to"] = out.pop("source"), out.pop("target")
        for k in ("p_b_given_a", "p_b", "lift"):
            out[k] = round(out[k], 4)
        out["p_value"] = float(f"{out['p_value']:.3g}")
        return out


def _payload_json(payloads: Any) -> Any:
    try:
        return json.loads(payloads.payloads[0].data)
    except (IndexError, ValueError, UnicodeDecodeError, AttributeError):
        return None


def _summary(event: Any) -> str | None:
    if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
        try:
            value = json.loads(event.user_metadata.summary.data)
        except (ValueError, UnicodeDecodeError):
            return None
        return value if isinstance(value, str) else None
    return None


_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: False,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: True,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: True,
}


def observations_from_history(history: WorkflowHistory, by: str = "function") -> list[Observation]:
    """One observation per activity of the execution (``by``: ``function`` — the NEXUS function
    or activity type — or ``state`` — the state, ``compensate <state>`` for undos)."""
    scheduled: dict[int, str] = {}
    attempts: dict[int, int] = {}
    out: list[Observation] = []
    for event in history.events:
        et = event.event_type
        if et == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            request = _payload_json(attrs.input)
            request = request if isinstance(request, dict) else {}
            kind = attrs.activity_type.name
            if by == "state":
                node = _summary(event) or str(request.get("state") or kind)
            else:
                node = str(request.get("function") or kind) if kind == INVOKE else kind
            scheduled[event.event_id] = node
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs_s = event.activity_task_started_event_attributes
            attempts[attrs_s.scheduled_event_id] = attrs_s.attempt
        elif et in _CLOSED:
            name = {
                EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed",
                EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed",
                EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out",
            }[et]
            sid = getattr(event, f"{name}_event_attributes").scheduled_event_id
            node_name = scheduled.get(sid)
            if node_name is None:
                continue
            failed = _CLOSED[et] or attempts.get(sid, 1) > 1
            when = event.event_time.seconds + event.event_time.nanos / 1e9
            out.append(Observation(history.workflow_id, node_name, when, failed))
    return out


def observations_from_trace(records: Iterable[Any]) -> list[Observation]:
    """Observations from simulator :class:`CallRecord` values (or mappings with the same keys)."""
    out = []
    for r in records:
        d: dict[str, Any] = r if isinstance(r, dict) else r.__dict__
        out.append(
            Observation(str(d["execution"]), str(d["node"]), float(d["time"]), bool(d["failed"]))
        )
    return out


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    total = 0.0
    lp, lq = math.log(p), math.log1p(-p)
    for i in range(k, n + 1):
        total += math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        )
    return min(total, 1.0)


def correlate(
    observations: Sequence[Observation],
    window: float = 60.0,
    *,
    scope: str = "global",
    min_support: int = 3,
    alpha: float = 0.01,
    keep_all: bool = False,
) -> list[Edge]:
    """The failure-correlation edges, strongest first (see the module doc).

    ``scope``: ``global`` counts A's failures in any execution within the window (a shared
    cause: a dependency, a region); ``execution`` only those in the same execution.
    ``keep_all`` returns every pair that has exposed calls, unfiltered.
    """
    calls: dict[str, list[Observation]] = defaultdict(list)
    for o in observations:
        calls[o.node].append(o)
    failures: dict[str, list[float]] = {}
    failures_by_exec: dict[tuple[str, str], list[float]] = defaultdict(list)
    for node, obs in calls.items():
        obs.sort(key=lambda o: o.time)
        failures[node] = [o.time for o in obs if o.failed]
        for o in obs:
            if o.failed:
                failures_by_exec[(node, o.execution)].append(o.time)
    edges = []
    for b, b_obs in calls.items():
        total = len(b_obs)
        n_b = sum(o.failed for o in b_obs)
        p_b = n_b / total if total else 0.0
        for a, a_fail in failures.items():
            if a == b or not a_fail:
                continue
            exposed = n_ab = 0
            for o in b_obs:
                times = a_fail if scope == "global" else failures_by_exec.get((a, o.execution), [])
                lo = bisect.bisect_left(times, o.time - window)
                hi = bisect.bisect_right(times, o.time)
                if hi > lo:
                    exposed += 1
                    n_ab += o.failed
            if not exposed:
                continue
            p_ba = n_ab / exposed
            lift = p_ba / p_b if p_b > 0 else (math.inf if n_ab else 0.0)
            edge = Edge(
                a,
                b,
                len(a_fail),
                n_b,
                total,
                exposed,
                n_ab,
                p_ba,
                p_b,
                lift,
                _binomial_tail(n_ab, exposed, p_b),
            )
            if keep_all or (n_ab >= min_support and lift > 1.0 and edge.p_value <= alpha):
                edges.append(edge)
    edges.sort(key=lambda e: (-e.lift, e.p_value, e.source, e.target))
    return edges


def _mermaid_id(name: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in name)


def to_mermaid(edges: Sequence[Edge]) -> str:
    """A Mermaid flowchart: an arrow A -> B per edge, labelled with lift and counts."""
    lines = ["flowchart LR"]
    nodes = sorted({e.source for e in edges} | {e.target for e in edges})
    for n in nodes:
        lines.append(f'    {_mermaid_id(n)}["{n}"]')
    for e in edges:
        label = f"lift {e.lift:.1f} ({e.n_ab}/{e.exposed} vs {e.n_b}/{e.total})"
        lines.append(f'    {_mermaid_id(e.source)} -->|"{label}"| {_mermaid_id(e.target)}')
    return "\n".join(lines) + "\n"
