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
#: ``workflow.patched`` id: a carry names the run it continues (``from_run``).
CARRY_RUN_PATCH = "nexus-carry-from-run"


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
    def from_plan(cls, raw: Any, plan: Plan) -> PendingCompensation:
        """Rebuild a carried compensation as a reference into ``plan``.

        Only the state name, the payload and the idempotency key travel: the action, its
        spec, timeout, task queue and mode come from the pinned plan, so carried state can
        never name code the definition does not (docs/security.md). Raises ``ValueError``
        saying what does not match.
        """
        if not isinstance(raw, dict) or not isinstance(raw.get("state"), str):
            raise ValueError("a carried compensation is not an object with a 'state'")
        name = raw["state"]
        try:
            state = plan.state(name)
        except KeyError:
            raise ValueError(f"carried compensation names unknown state '{name}'") from None
        spec = getattr(state, "compensate", None)
        if not isinstance(spec, CompensationSpec):
            raise ValueError(f"state '{name}' defines no compensation")
        if raw.get("action", spec.action) != spec.action:
            raise ValueError(
                f"carried compensation of '{name}' calls '{raw.get('action')}', but the "
                f"definition compensates it with '{spec.action}'"
            )
        key = raw.get("key", "")
        if not isinstance(key, str):
            raise ValueError(f"carried compensation of '{name}' has a non-string key")
        target = plan.target(spec.action)
        defaults = plan.definition.defaults
        return cls(
            state=name,
            action=spec.action,
            spec=spec,
            payload=raw.get("payload"),
            key=key,
            timeout=spec.timeout or target.spec.timeout or defaults.timeout or 60.0,
            task_queue=target.spec.task_queue or defaults.task_queue,
            express=getattr(state, "mode", None) == "express",
        )


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
        if workflow.patched(CARRY_RUN_PATCH):
            # The next run honours the carry only if it continues this very run: a starter
            # cannot know a run id before the server assigns it (docs/security.md).
            out["from_run"] = workflow.info().run_id
        return out

    def restore(self, carry: dict[str, Any]) -> None:
        """Take over a continued run's progress, checked against the pinned plan (raises
        ``ValueError`` saying what does not fit)."""
        self.visits = {str(k): int(v) for k, v in _mapping(carry, "visits").items()}
        self.done = _names(carry, "done")
        self.trail = _names(carry, "trail")
        self.trail_dropped = int(carry.get("trail_dropped", 0))
        compensations = carry.get("compensations", [])
        if not isinstance(compensations, list):
            raise ValueError("'compensations' is not a list")
        self.compensations = [PendingCompensation.from_plan(c, self.plan) for c in compensations]
        results = carry.get("compensation_results", [])
        if not isinstance(results, list):
            raise ValueError("'compensation_results' is not a list")
        self.compensation_results = list(results)
        for name, values in _mapping(carry, "signals").items():
            if not isinstance(values, list):
                raise ValueError(f"carried signal '{name}' is not a list")
            self.signals.setdefault(str(name), [])[:0] = values
        self.maps = {str(k): dict(v) for k, v in _mapping(carry, "maps").items()}
        if "raw_input" in carry:
            self.raw_input, self.input_wrapped = carry["raw_input"], True

    def snapshot(self) -> dict[str, Any]:
        """The ``nexus_state`` query result (docs/dsl.md, 'The nexus_state query'): every
        list is a list, empty or not, never null."""
        return {
            "definition": self.plan.name,
            "version": self.plan.version,
            "hash": self.plan.hash,
            "status": self.status,
            "current": list(self.current),
            "done": list(self.done),
            "trail": list(self.trail),
            "trail_dropped": self.trail_dropped,
            # After success nothing is pending: registered compensations never run.
            "pending_compensations": []
            if self.status == "succeeded"
            else [{"state": c.state, "action": c.action} for c in reversed(self.compensations)],
            "compensations": list(self.compensation_results),
            "maps": {name: dict(p) for name, p in self.maps.items()},
        }


def _mapping(carry: dict[str, Any], key: str) -> dict[Any, Any]:
    value = carry.get(key, {})
    if not isinstance(value, dict):
        raise ValueError(f"'{key}' is not an object")
    return value


def _names(carry: dict[str, Any], key: str) -> list[str]:
    value = carry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{key}' is not a list of state names")
    return list(value)


def _timestamp(when: Any) -> str:
    """ISO-8601 in UTC with milliseconds, as Step Functions writes times."""

    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
