"""Per-state spans and metrics, recorded from workflow code without breaking replay.

Workflow code: deterministic. Nothing here does I/O or reads a clock but ``workflow.time_ns()``:

- metrics go through ``workflow.metric_meter()``, which the SDK skips while replaying;
- a state's span is handed, once the state is left and only when not replaying, to the worker's
  ``__nexus_state_span`` extern function (registered by ``workers.telemetry.NexusTracing``),
  which records it with the state's real (workflow-time) start and end. Its ids are derived from
  the run id and the order in which states were entered, so an activity scheduled inside the
  state is parented to it even if the span is recorded by a later workflow task, after a
  replay. A worker without tracing has no such extern function: then only metrics are recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import opentelemetry.context
import opentelemetry.trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from temporalio import workflow
from temporalio.common import MetricCounter

from interpreters.context import RunContext
from interpreters.errors import NexusError

STATE_SPAN_EXTERN = "__nexus_state_span"
_SEQ_ATTR = "_nexus_state_span_seq"
_METERS_ATTR = "_nexus_metric_instruments"
_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class StateSpan:
    """One finished state, as the workflow hands it to the worker to record as a span.

    ``parent``: W3C trace-context carrier of the span the state ran under (empty: none, then the
    span is a root of trace ``trace_id``). ``error``: the error type that left the state.
    """

    name: str
    trace_id: int
    span_id: int
    start_ns: int
    end_ns: int
    parent: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str | int] = field(default_factory=dict)
    error: str | None = None
    error_message: str | None = None


def _hash_int(text: str, bits: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[: bits // 8], "big")
    return value or 1


def _next_seq() -> int:
    instance = workflow.instance()
    seq = int(getattr(instance, _SEQ_ATTR, 0)) + 1
    setattr(instance, _SEQ_ATTR, seq)
    return seq


def _counter(name: str, description: str) -> MetricCounter:
    instance = workflow.instance()
    instruments: dict[str, Any] | None = getattr(instance, _METERS_ATTR, None)
    if instruments is None:
        instruments = {}
        setattr(instance, _METERS_ATTR, instruments)
    if name not in instruments:
        instruments[name] = workflow.metric_meter().create_counter(name, description)
    counter: MetricCounter = instruments[name]
    return counter


def _definition(ctx: RunContext) -> dict[str, str]:
    return {"definition": ctx.plan.name, "version": ctx.plan.version}


@contextmanager
def observe_state(ctx: RunContext, scope_id: str, state: Any) -> Iterator[None]:
    """Around one visit of a state: count it, and (with tracing) span it as ``state:<Name>``.

    Activities, timers and children started inside run under the state's span. A state left by
    a NexusError (caught or not) is counted in ``nexus_state_failures`` and its span marked as
    an error; a state abandoned otherwise (cancellation, eviction) records no span.
    """
    labels = {**_definition(ctx), "state": state.name, "state_type": state.type}
    _counter("nexus_state_transitions_total", "states entered, by definition and state").add(
        1, labels
    )
    record = workflow.extern_functions().get(STATE_SPAN_EXTERN)
    if record is None:
        try:
            yield
        except NexusError as err:
            _count_state_failure(ctx, state.name, err)
            raise
        return
    info = workflow.info()
    parent_context = opentelemetry.context.get_current()
    parent = opentelemetry.trace.get_current_span(parent_context).get_span_context()
    trace_id = (
        parent.trace_id
        if parent.is_valid
        else _hash_int(f"{info.workflow_id}/{info.first_execution_run_id}", 128)
    )
    carrier: dict[str, str] = {}
    if parent.is_valid:
        _PROPAGATOR.inject(carrier, parent_context)
    span = StateSpan(
        name=f"state:{state.name}",
        trace_id=trace_id,
        span_id=_hash_int(f"{info.run_id}/{_next_seq()}", 64),
        start_ns=workflow.time_ns(),
        end_ns=0,
        parent=carrier,
        attributes={
            "nexus.definition": ctx.plan.name,
            "nexus.version": ctx.plan.version,
            "nexus.state": state.name,
            "nexus.state_type": state.type,
            "nexus.scope": scope_id,
            "nexus.visit": ctx.visits.get(state.name, 1),
            "temporalWorkflowID": info.workflow_id,
            "temporalRunID": info.run_id,
        },
    )
    own = opentelemetry.trace.NonRecordingSpan(
        opentelemetry.trace.SpanContext(
            trace_id,
            span.span_id,
            is_remote=False,
            trace_flags=opentelemetry.trace.TraceFlags(opentelemetry.trace.TraceFlags.SAMPLED),
        )
    )
    token = opentelemetry.context.attach(opentelemetry.trace.set_span_in_context(own))
    try:
        yield
    except NexusError as err:
        _count_state_failure(ctx, state.name, err)
        _record(record, span, err)
        raise
    else:
        _record(record, span, None)
    finally:
        try:
            token.var.reset(token)
        except ValueError:  # finalised in another context (an evicted workflow): nothing to do
            pass


def _record(record: Any, span: StateSpan, err: NexusError | None) -> None:
    if workflow.unsafe.is_replaying():
        return
    record(
        replace(
            span,
            end_ns=workflow.time_ns(),
            error=err.type if err else None,
            error_message=err.message if err else None,
        )
    )


def _count_state_failure(ctx: RunContext, state: str, err: NexusError) -> None:
    _counter("nexus_state_failures_total", "errors raised by a state (caught or not), by type").add(
        1, {**_definition(ctx), "state": state, "error_type": err.type}
    )


def observe_failure(ctx: RunContext, err: NexusError) -> None:
    """Once a run fails for good, after its compensations: count the failure by error type and
    every compensation by outcome (``compensated`` or ``failed``)."""
    _counter("nexus_workflow_failures_total", "runs failed for good, by error type").add(
        1, {**_definition(ctx), "error_type": err.type}
    )
    compensations = _counter("nexus_compensations_total", "compensations run, by state and outcome")
    for record in ctx.compensation_results:
        compensations.add(
            1,
            {
                **_definition(ctx),
                "state": str(record.get("state", "")),
                "status": str(record.get("status", "")),
            },
        )
