"""The NEXUS YAML v1 format as pydantic models.

These models are both the validation schema (``nexus schema`` publishes their JSON Schema) and,
once the compiler has normalised them, the immutable plan the interpreter walks: every model is
frozen and forbids unknown fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nexus_temporal.dsl import expressions as _expr
from nexus_temporal.dsl.durations import parse_duration

#: A JSONata expression, or a JSON structure whose every string is a JSONata expression.
Expr = Any
#: A duration such as ``30s``, ``5m``, ``1h30m``, ``250ms`` or ``PT5M``; stored as seconds.
Duration = Annotated[
    float, Field(json_schema_extra={"type": ["string", "number"], "examples": ["30s"]})
]
#: How tasks run: ``regular`` activities, or ``express`` local activities.
Mode = Literal["regular", "express"]
#: Temporal stores attempt counts as int32.
MAX_ATTEMPTS = 2**31 - 1
#: The ``retry: 3`` shorthand: a number of attempts, 0 meaning unlimited.
Attempts = Annotated[int, Field(ge=0, le=MAX_ATTEMPTS, strict=True)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: Any) -> Any:
    if value is None:
        return None
    return parse_duration(value)


def _positive_duration(value: Any) -> Any:
    """Timeouts and intervals: Temporal reads 0 as 'unset', so a written 0 is a mistake."""
    seconds = _duration(value)
    if seconds is not None and seconds <= 0:
        raise ValueError(f"'{value}' must be greater than 0")
    return seconds


class RetrySpec(Model):
    """How Temporal retries an action. ``retry: 3`` is short for ``{max_attempts: 3}``."""

    max_attempts: int = Field(
        3,
        ge=0,
        le=MAX_ATTEMPTS,
        strict=True,
        description="0 means unlimited (bounded by timeouts).",
    )
    initial_interval: Duration = 1.0
    backoff_coefficient: float = Field(2.0, ge=1.0)
    maximum_interval: Duration | None = 60.0
    non_retryable: tuple[str, ...] = Field((), description="Error types that are never retried.")
    retry_on: tuple[str, ...] | None = Field(
        None,
        description="Retry only these error types ('*': any); others fail at once. Attempts "
        "are then separate activities with durable timers between them.",
    )
    policy: Literal["static", "adaptive"] = Field(
        "static",
        description="static: Temporal's exponential schedule; adaptive: the worker chooses each "
        "delay from the target's anomaly score, within a retry budget (docs/resilience.md).",
    )
    jitter: Literal["none", "full"] = Field(
        "none",
        description="full: each delay is drawn uniformly between 0 and the backoff delay "
        "(Step Functions' JitterStrategy FULL); attempts are then separate activities.",
    )

    _d = field_validator("initial_interval", "maximum_interval", mode="before")(_positive_duration)


class Defaults(Model):
    """Settings every task inherits unless it sets its own."""

    timeout: Duration | None = Field(None, description="Start-to-close timeout of one attempt.")
    schedule_to_close: Duration | None = Field(
        None, description="Total time for all attempts of an action."
    )
    heartbeat: Duration | None = None
    retry: RetrySpec | None = None
    task_queue: str | None = None
    history_limit: int = Field(
        8000,
        ge=100,
        le=40000,
        description="Continue-as-new (carrying the data) once a run's history has this many "
        "events, or when Temporal suggests it.",
    )
    # The bounds of every JSONata evaluation (docs/dsl.md, "Bounded expressions"). Set here, in
    # the definition deployed with the worker, not in the worker's environment: an execution
    # replays under the bounds it ran with, whichever worker replays it. At their defaults they
    # are left out of the plan's content hash (plan_json), so existing hashes do not change.
    expression_steps: int = Field(
        _expr.DEFAULT_STEPS,
        ge=1_000,
        le=2_000_000,
        description="Evaluation steps one expression field may take (the time bound; "
        "250,000 is ~0.7 s).",
    )
    expression_items: int = Field(
        _expr.DEFAULT_ITEMS,
        ge=1_000,
        le=100_000_000,
        description="Array items and object keys the results of one expression field may hold "
        "in total.",
    )
    expression_chars: int = Field(
        _expr.DEFAULT_CHARS,
        ge=1_000,
        le=100_000_000,
        description="String characters the results of one expression field may hold in total.",
    )
    expression_depth: int = Field(
        _expr.DEFAULT_DEPTH,
        ge=10,
        le=2_000,
        description="Nested evaluations (about 3 per call of a recursive function).",
    )

    _d = field_validator("timeout", "schedule_to_close", "heartbeat", mode="before")(
        _positive_duration
    )


class BreakerSpec(Model):
    """Tune a function's circuit breaker (per target, per worker process); unset fields keep
    the worker's defaults (docs/providers.md)."""

    enabled: bool | None = None
    window_size: int | None = Field(None, ge=1, le=10_000, description="Calls in the window.")
    minimum_calls: int | None = Field(None, ge=1, description="Calls before rates count.")
    failure_rate: float | None = Field(None, gt=0, le=100, description="Percent; opens at it.")
    slow_call_rate: float | None = Field(None, gt=0, le=100, description="Percent; opens at it.")
    slow_call_duration: Duration | None = None
    open_duration: Duration | None = Field(None, description="Open, then half-open probes.")
    half_open_calls: int | None = Field(None, ge=1, description="Probes while half-open.")

    _d = field_validator("slow_call_duration", "open_duration", mode="before")(_positive_duration)


class FunctionSpec(Model):
    """A named action target.

    ``uri`` is ``python:module:function``, ``http(s)://...``, ``aws-lambda:NAME|ARN``,
    ``azure-function:APP/ROUTE``, ``gcp-function:projects/P/locations/L/functions/F``, or
    ``activity:TYPE`` for an activity type served by any Temporal worker on the task queue.
    """

    uri: str
    method: str = "POST"
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers; '${env:NAME}' is read from the worker's environment.",
    )
    timeout: Duration | None = None
    retry: RetrySpec | None = None
    task_queue: str | None = None
    region: str | None = Field(None, description="aws-lambda: the region (else the ARN's).")
    qualifier: str | None = Field(None, description="aws-lambda: a version or alias.")
    circuit_breaker: BreakerSpec | None = None
    idempotent: bool | None = Field(
        None,
        description="Whether calling it twice has the effect of calling it once; unset: "
        "unknown (policy rules then judge http(s) functions by their method).",
    )

    _d = field_validator("timeout", mode="before")(_positive_duration)


class CompensationSpec(Model):
    """A saga compensation: the action that undoes a state that ran."""

    action: str
    input: Expr = None
    retry: RetrySpec | None = None
    timeout: Duration | None = None

    _d = field_validator("timeout", mode="before")(_positive_duration)


class CatchSpec(Model):
    """Route an error to a state. ``errors`` lists error types; ``*`` matches any."""

    errors: tuple[str, ...] = ("*",)
    next: str
    as_: str = Field("error", alias="as", description="Data key that receives the error.")


class OnFailure(Model):
    """The white paper's Appendix B shorthand: ``retry``, ``backoff`` and ``compensate``."""

    retry: Attempts | RetrySpec | None = None
    backoff: Literal["exponential", "fixed", "constant"] | None = None
    compensate: str | CompensationSpec | None = None
    catch: tuple[CatchSpec, ...] = ()


class Child(NamedTuple):
    """A sequence of states nested in a state: a parallel branch, or a map's item states."""

    #: The scope's id below its state: ``<state>/<key>`` (a branch's name, or ``item``).
    key: str
    states: tuple[State, ...]
    #: The data path of ``states`` relative to the state.
    path: tuple[Any, ...]
    #: ``branch`` (runs once, next to its siblings) or ``item`` (runs once per map item).
    kind: Literal["branch", "item"]


class StateBase(Model):
    name: str = Field(min_length=1)
    description: str | None = None
    next: str | None = Field(None, description="The next state; without it the workflow ends.")

    def children(self) -> tuple[Child, ...]:
        """The scopes nested in this state, in order (each is checked and run on its own)."""
        return ()

    def actions(self) -> tuple[str, ...]:
        """Every action this state itself calls (not its children's), in order."""
        return ()

    @classmethod
    def written_children(cls, raw: dict[str, Any]) -> list[tuple[Any, tuple[Any, ...]]]:
        """:meth:`children` of a state as written, before validation: (the raw states,
        their data path relative to the state)."""
        return []


class TaskState(StateBase):
    """Call an action (a function or an activity type)."""

    type: Literal["task"] = "task"
    action: str
    input: Expr = Field(None, description="JSONata over the data: what the action receives.")
    output: Expr = Field(None, description="JSONata over the result ($) : what is kept.")
    assign: dict[str, Expr] | None = Field(
        None, description="Data keys set from the (shaped) result; default: data[<state>]."
    )
    timeout: Duration | None = None
    schedule_to_close: Duration | None = None
    heartbeat: Duration | None = None
    retry: Attempts | RetrySpec | None = None
    catch: tuple[CatchSpec, ...] = ()
    compensate: str | CompensationSpec | None = None
    on_failure: OnFailure | None = None
    task_queue: str | None = None
    mode: Mode | None = Field(
        None, description="express: run as a local activity (default: the definition's mode)."
    )
    fallback: tuple[str, ...] | None = Field(
        None,
        description="Functions tried in order when the action fails for good or its circuit "
        "breaker is open; the result is then {served_by, result}.",
    )

    _d = field_validator("timeout", "schedule_to_close", "heartbeat", mode="before")(
        _positive_duration
    )

    def actions(self) -> tuple[str, ...]:
        """The action, its fallbacks, then the compensation (once normalised)."""
        compensation = self.compensate
        extra = (compensation.action,) if isinstance(compensation, CompensationSpec) else ()
        return (self.action, *(self.fallback or ()), *extra)


class ChoiceRule(Model):
    when: str = Field(description="JSONata condition over the data.")
    next: str


class ChoiceState(StateBase):
    """Go to the first rule whose condition is true, else to ``default``."""

    type: Literal["choice"] = "choice"
    choices: tuple[ChoiceRule, ...] = Field(min_length=1)
    default: str | None = None


class PassState(StateBase):
    """Shape the data without calling anything (``set`` is a synonym)."""

    type: Literal["pass", "set"] = "pass"
    assign: dict[str, Expr] | None = None
    output: Expr = Field(None, description="JSONata over the data: replaces the data.")


class WaitState(StateBase):
    """Wait for a duration, until a timestamp, or until a signal or update arrives."""

    type: Literal["wait"] = "wait"
    duration: Duration | None = None
    until: str | None = Field(None, description="JSONata giving an ISO-8601 timestamp.")
    signal: str | None = Field(None, description="Signal or update name to wait for.")
    timeout: Duration | None = Field(None, description="With signal: give up after this.")
    assign: dict[str, Expr] | None = Field(
        None, description="With signal: data keys set from the payload ($)."
    )
    catch: tuple[CatchSpec, ...] = ()

    _d = field_validator("duration", mode="before")(_duration)
    _t = field_validator("timeout", mode="before")(_positive_duration)


class Branch(Model):
    name: str = Field(min_length=1)
    states: tuple[State, ...] = Field(min_length=1)


class ParallelState(StateBase):
    """Run static branches concurrently; each gets a copy of the data."""

    type: Literal["parallel"] = "parallel"
    branches: tuple[Branch, ...] = Field(min_length=1)
    output: Expr = None
    assign: dict[str, Expr] | None = None
    catch: tuple[CatchSpec, ...] = ()

    def children(self) -> tuple[Child, ...]:
        return tuple(
            Child(branch.name, branch.states, ("branches", b, "states"), "branch")
            for b, branch in enumerate(self.branches)
        )

    @classmethod
    def written_children(cls, raw: dict[str, Any]) -> list[tuple[Any, tuple[Any, ...]]]:
        branches = raw.get("branches")
        if not isinstance(branches, list):
            return []
        return [
            (branch.get("states"), ("branches", b, "states"))
            for b, branch in enumerate(branches)
            if isinstance(branch, dict)
        ]


class ItemSource(Model):
    """Where a map reads its items: a local file or ``s3://bucket/key``."""

    path: str
    format: Literal["json", "jsonl", "csv"] | None = Field(
        None, description="Default: from the file suffix."
    )


class MapState(StateBase):
    """Run one action, or a sequence of states, for every item; scales out into child
    workflows above a threshold, with bounded pending work and history per execution."""

    type: Literal["map"] = "map"
    items: str | None = Field(None, description="JSONata over the data giving the item list.")
    item_source: str | ItemSource | None = Field(
        None, description="A JSON, JSONL or CSV file (local path or s3://bucket/key)."
    )
    action: str | None = Field(None, description="The action each item (or batch) calls.")
    states: tuple[State, ...] | None = Field(None, description="States each item runs.")
    input: Expr = Field(
        None, description="JSONata: what an item receives ($ = item, $index, $data)."
    )
    max_concurrency: int = Field(10, ge=1, le=1000)
    mode: Mode | None = Field(None, description="express: item actions run as local activities.")
    batch: int = Field(1, ge=1, le=10000, description="Max items per action call.")
    tolerated_failures: int | str = Field(
        0, description="Failed items tolerated: a count, or a percentage such as '5%'."
    )
    on_item_failure: Literal["tolerance_error", "item_error"] = Field(
        "tolerance_error",
        description="Failed items beyond the tolerance: fail with MapToleranceExceeded, or "
        "(item_error, when no failure is tolerated) with the first failed item's own error.",
    )
    batch_item_errors: bool = Field(
        False,
        description="With batch: the action may fail single items, returning "
        '{"__nexus_item_error__": {"type": ..., "message": ...}} at their positions.',
    )
    results: Literal["collect", "discard", "store"] = "collect"
    result_store: str | None = Field(
        None,
        description="Directory or s3://bucket/prefix for stored results (default .nexus/results).",
    )
    output: Expr = None
    assign: dict[str, Expr] | None = None
    timeout: Duration | None = None
    retry: Attempts | RetrySpec | None = None
    catch: tuple[CatchSpec, ...] = ()
    task_queue: str | None = None

    _t = field_validator("timeout", mode="before")(_positive_duration)

    def children(self) -> tuple[Child, ...]:
        return (Child("item", self.states, ("states",), "item"),) if self.states else ()

    @classmethod
    def written_children(cls, raw: dict[str, Any]) -> list[tuple[Any, tuple[Any, ...]]]:
        states = raw.get("states")
        return [(states, ("states",))] if isinstance(states, list) else []

    def actions(self) -> tuple[str, ...]:
        return (self.action,) if self.action else ()


class WorkflowState(StateBase):
    """Start another NEXUS definition as a child workflow."""

    type: Literal["workflow"] = "workflow"
    workflow: str = Field(description="name or name@version of the definition to start.")
    input: Expr = Field(None, description="JSONata over the data: the child's input.")
    output: Expr = None
    assign: dict[str, Expr] | None = None
    detached: bool = Field(False, description="Start it and go on without waiting.")
    parent_close_policy: Literal["terminate", "abandon", "request_cancel"] | None = Field(
        None,
        description="What happens to a child still running when this one closes "
        "(default: terminate; abandon when detached).",
    )
    catch: tuple[CatchSpec, ...] = ()


class SucceedState(StateBase):
    """End the workflow (or branch) successfully."""

    type: Literal["succeed"] = "succeed"
    output: Expr = None


class FailState(StateBase):
    """End the workflow with an error; compensations run."""

    type: Literal["fail"] = "fail"
    error: str = "Failed"
    message: str | None = None
    error_expr: str | None = Field(
        None, description="JSONata over the data giving the error type (instead of 'error')."
    )
    message_expr: str | None = Field(
        None, description="JSONata over the data giving the message (instead of 'message')."
    )


State = Annotated[
    TaskState
    | ChoiceState
    | PassState
    | WaitState
    | ParallelState
    | MapState
    | WorkflowState
    | SucceedState
    | FailState,
    Field(discriminator="type"),
]

#: The state models of the union, in order: the one list every per-type table derives from
#: (compiler checks, interpreter handlers, docs and tests; tests/test_registries.py).
STATE_MODELS: tuple[type[StateBase], ...] = get_args(get_args(State)[0])


def type_names(model: type[StateBase]) -> tuple[str, ...]:
    """The ``type:`` values a state model accepts (``pass`` also takes ``set``)."""
    return get_args(model.model_fields["type"].annotation)


#: Every ``type:`` value, in the union's order.
STATE_TYPES: tuple[str, ...] = tuple(t for m in STATE_MODELS for t in type_names(m))
#: The model of each ``type:`` value.
STATE_MODEL_BY_TYPE: dict[str, type[StateBase]] = {
    t: m for m in STATE_MODELS for t in type_names(m)
}


class Walked(NamedTuple):
    state: State
    #: The state's data path (``("states", 0, "branches", 1, "states", 2)``).
    path: tuple[Any, ...]
    #: Its scope's path: ``""`` at the top, else ``<state>/<key>`` segments joined by ``/``.
    scope: str
    depth: int


def walk(
    states: tuple[State, ...], path: tuple[Any, ...] = ("states",), scope: str = "", depth: int = 0
) -> Iterator[Walked]:
    """Every state, depth first: each state, then the states of its :meth:`~StateBase.children`."""
    for i, state in enumerate(states):
        spath = path + (i,)
        yield Walked(state, spath, scope, depth)
        for child in state.children():
            inner = f"{scope}/{state.name}/{child.key}".lstrip("/")
            yield from walk(child.states, spath + child.path, inner, depth + 1)


class Definition(Model):
    """A NEXUS workflow definition."""

    format: Literal["nexus/v1"] = Field("nexus/v1", description="The format version.")
    name: str = Field(min_length=1, description="Also the Temporal workflow type.")
    version: str = Field(
        "1",
        description="The definition's own version, for name@version.",
        json_schema_extra={"type": ["string", "integer"]},
    )
    description: str | None = None
    replaces: tuple[Annotated[str, Field(pattern="^[0-9a-f]{12,64}$")], ...] = Field(
        (),
        description="Content hashes (the first 12 or more hex digits) of earlier contents "
        "whose running executions this definition takes over; see docs/versioning.md.",
    )
    start_at: str | None = Field(None, description="First state; default: the first listed.")
    mode: Mode = Field(
        "regular",
        description="express: tasks run as local activities (short calls, a few ms per state).",
    )
    defaults: Defaults = Defaults()
    functions: dict[str, str | FunctionSpec] = Field(default_factory=dict)
    states: tuple[State, ...] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(
                f'YAML reads this version as the number {value!r}; quote it, e.g. "1.10"'
            )
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Branch.model_rebuild()
MapState.model_rebuild()
