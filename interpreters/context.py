"""Per-execution state of the generic workflow: data, progress and the compensation stack.

Everything here is workflow code: it must stay deterministic (no I/O, no clocks but
``workflow.now()``, no randomness).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow

from nexus_temporal.dsl.plan import Plan, Scope
from nexus_temporal.dsl.schema import CompensationSpec


@dataclass
class PendingCompensation:
    state: str
    action: str
    spec: CompensationSpec
    payload: Any
    key: str
    timeout: float
    task_queue: str | None


@dataclass
class Outcome:
    """What a state handler returns: the new data and the next state (None: scope ends)."""

    data: Any
    next: str | None


@dataclass
class RunContext:
    """What state handlers may use besides their state and the data."""

    plan: Plan
    workflow_input: Any
    walk: Callable[[Scope, Any], Awaitable[Any]]
    current: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    trail: list[str] = field(default_factory=list)
    visits: dict[str, int] = field(default_factory=dict)
    compensations: list[PendingCompensation] = field(default_factory=list)
    compensation_results: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, list[Any]] = field(default_factory=dict)
    status: str = "running"
    search_attributes: bool = True

    def bindings(self, data: Any, **extra: Any) -> dict[str, Any]:
        """JSONata ``$`` variables available in every expression."""
        info = workflow.info()
        out = {
            "data": data,
            "input": self.workflow_input,
            "workflow": {"id": info.workflow_id, "run_id": info.run_id, "type": info.workflow_type},
        }
        out.update(extra)
        return out

    def idempotency_key(self, state: str) -> str:
        """Stable across retries and replays: workflow id, state, and visit number."""
        return f"{workflow.info().workflow_id}/{state}/{self.visits.get(state, 1)}"

    def snapshot(self) -> dict[str, Any]:
        """The ``nexus_state`` query result."""
        return {
            "definition": self.plan.name,
            "version": self.plan.version,
            "hash": self.plan.hash,
            "status": self.status,
            "current": list(self.current),
            "done": list(self.done),
            "trail": list(self.trail),
            "pending_compensations": [
                {"state": c.state, "action": c.action} for c in reversed(self.compensations)
            ],
            "compensations": list(self.compensation_results),
        }
