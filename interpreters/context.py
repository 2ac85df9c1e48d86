"""Per-execution state of the generic workflow: data, progress and the compensation stack.

Everything here is workflow code: it must stay deterministic (no I/O, no clocks but
``workflow.now()``, no randomness).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from temporalio import workflow

from nexus_temporal.dsl.plan import Plan, Scope
from nexus_temporal.dsl.schema import CompensationSpec

#: How much of the done/trail lists a continued-as-new run carries over.
CARRIED_TRAIL = 500
#: ``workflow.patched`` id: ``$context.Execution.Input`` is the input as given, not wrapped.
RAW_INPUT_PATCH = "nexus-context-raw-input"


@dataclass
class PendingCompensation:
    state: str
    action: str
    spec: CompensationSpec
    payload: Any
    key: str
    timeout: float
    task_queue: str | None
    express: bool = False

    def to_json(self) -> dict[str, Any]:
        """For continue-as-new and for shards handing compensations to their parent."""
        return {
            "state": self.state,
            "action": self.action,
            "spec": self.spec.model_dump(mode="json", by_alias=True),
            "payload": self.payload,
            "key": self.key,
            "timeout": self.timeout,
            "task_queue": self.task_queue,
            "express": self.express,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PendingCompensation:
        return cls(**{**raw, "spec": CompensationSpec.model_validate(raw["spec"])})


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
    trail_dropped: int = 0
    visits: dict[str, int] = field(default_factory=dict)
    compensations: list[PendingCompensation] = field(default_factory=list)
    compensation_results: list[dict[str, Any]] = field(default_factory=list)
    signals: dict[str, list[Any]] = field(default_factory=dict)
    maps: dict[str, dict[str, int]] = field(default_factory=dict)
    pin: Any = None
    status: str = "running"
    search_attributes: bool = True
    #: The workflow input as given, when it was not an object (``workflow_input`` wraps it).
    raw_input: Any = None
    input_wrapped: bool = False

    def bindings(self, data: Any, **extra: Any) -> dict[str, Any]:
        """JSONata ``$`` variables available in every expression."""
        info = workflow.info()
        out = {
            "data": data,
            "input": self.workflow_input,
            "workflow": {"id": info.workflow_id, "run_id": info.run_id, "type": info.workflow_type},
            "context": self.context_object(extra.pop("state", None)),
        }
        out.update(extra)
        return out

    def context_object(self, state: str | None) -> dict[str, Any]:
        """``$context``: the Step Functions context object (``$$``), from workflow info and
        workflow time only, so it is the same on replay (docs/dsl.md §8.6)."""
        info = workflow.info()
        now = _timestamp(workflow.now())
        out: dict[str, Any] = {
            "Execution": {
                "Id": info.workflow_id,
                "Name": info.workflow_id,
                "StartTime": _timestamp(info.start_time),
                "Input": self.execution_input(),
            },
            "StateMachine": {"Id": info.workflow_type, "Name": self.plan.name},
        }
        if state is not None:
            out["State"] = {
                "Name": state,
                "EnteredTime": now,
                "RetryCount": 0,
                "Visit": self.visits.get(state, 1),
            }
        return out

    def execution_input(self) -> Any:
        """The workflow input exactly as given (Step Functions' ``$$.Execution.Input``): a
        non-object input is not wrapped. Executions started before this read the wrapped
        input, and keep doing so on replay."""
        if self.input_wrapped and workflow.patched(RAW_INPUT_PATCH):
            return self.raw_input
        return self.workflow_input

    def idempotency_key(self, state: str) -> str:
        """Stable across retries and replays: workflow id, state, and visit number."""
        return f"{workflow.info().workflow_id}/{state}/{self.visits.get(state, 1)}"

    def carry(self, data: Any, next_state: str) -> dict[str, Any]:
        """What a continued-as-new run needs to go on as the same logical execution."""
        from dataclasses import asdict

        out: dict[str, Any] = {
            "pin": asdict(self.pin),
            "input": self.workflow_input,
            "data": data,
            "state": next_state,
            "visits": self.visits,
            "done": self.done[-CARRIED_TRAIL:],
            "trail": self.trail[-CARRIED_TRAIL:],
            "trail_dropped": self.trail_dropped + max(0, len(self.trail) - CARRIED_TRAIL),
            "compensations": [c.to_json() for c in self.compensations],
            "compensation_results": self.compensation_results,
            "signals": self.signals,
            "maps": self.maps,
        }
        if self.input_wrapped:
            out["raw_input"] = self.raw_input
        return out

    def restore(self, carry: dict[str, Any]) -> None:
        self.visits = dict(carry["visits"])
        self.done = list(carry["done"])
        self.trail = list(carry["trail"])
        self.trail_dropped = int(carry.get("trail_dropped", 0))
        self.compensations = [PendingCompensation.from_json(c) for c in carry["compensations"]]
        self.compensation_results = list(carry["compensation_results"])
        for name, values in carry["signals"].items():
            self.signals.setdefault(name, [])[:0] = values
        self.maps = dict(carry["maps"])
        if "raw_input" in carry:
            self.raw_input, self.input_wrapped = carry["raw_input"], True

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
            "trail_dropped": self.trail_dropped,
            "pending_compensations": [
                {"state": c.state, "action": c.action} for c in reversed(self.compensations)
            ],
            "compensations": list(self.compensation_results),
            "maps": {name: dict(p) for name, p in self.maps.items()},
        }


def _timestamp(when: Any) -> str:
    """ISO-8601 in UTC with milliseconds, as Step Functions writes times."""

    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
