"""OpenTelemetry traces of a NEXUS run: one ``state:<Name>`` span per state visited, a
``function:<name>`` span per action under its state, all in the trace of the client that
started the run; and nothing more when the history is replayed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from interpreters.workflow import NexusWorkflow, bind, unbind
from tests.helpers.run import nexus_worker, registry_of, start
from workers.telemetry import NexusTracing

FNS = "python:tests.helpers.functions"

FLOW = f"""
name: traced
version: "1"
functions:
  echo: {FNS}:echo
  add: {FNS}:add
  boom: {FNS}:boom
states:
  - name: Echo
    action: echo
    next: Route
  - name: Route
    type: choice
    choices:
      - when: a > 0
        next: Add
    default: Done
  - name: Add
    action: add
    input: '{{"a": a, "b": b}}'
    assign: {{total: sum}}
    next: Risky
  - name: Risky
    action: boom
    input: '{{"kind": "Nope"}}'
    catch:
      - errors: [Nope]
        next: Done
  - name: Done
    type: succeed
"""


def traced_client(env: WorkflowEnvironment) -> tuple[Client, InMemorySpanExporter, NexusTracing]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = NexusTracing(provider.get_tracer("test"))
    config = env.client.config()
    config["interceptors"] = [tracing]
    return Client(**config), exporter, tracing


def by_id(spans: Sequence[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans if s.context is not None}


def ancestors(span: ReadableSpan, index: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in index:
        found = index[parent.span_id]
        names.append(found.name)
        parent = found.parent
    return names


async def test_one_span_per_state_and_function_spans_in_one_trace(
    env: WorkflowEnvironment,
) -> None:
    client, exporter, tracing = traced_client(env)
    async with nexus_worker(client, FLOW) as worker:
        handle = await start(client, worker, "traced", {"a": 1, "b": 2})
        result = await handle.result()
    assert result["total"] == 3 and result["error"]["type"] == "Nope"
    spans = exporter.get_finished_spans()
    states = [s.name for s in spans if s.name.startswith("state:")]
    assert sorted(states) == sorted(
        ["state:Echo", "state:Route", "state:Add", "state:Risky", "state:Done"]
    ), states
    functions = sorted(s.name for s in spans if s.name.startswith("function:"))
    assert functions == ["function:add", "function:boom", "function:echo"], functions

    # One trace: the client's StartWorkflow span is its root.
    assert len({s.context.trace_id for s in spans if s.context}) == 1
    roots = [s.name for s in spans if s.parent is None]
    assert roots == ["StartWorkflow:traced"], roots

    index = by_id(spans)
    named = {s.name: s for s in spans}
    # Each function runs under Temporal's activity spans, under the state that called it.
    for function, state in (("echo", "Echo"), ("add", "Add"), ("boom", "Risky")):
        span = named[f"function:{function}"]
        chain = ancestors(span, index)
        assert chain[:3] == [
            "RunActivity:nexus.invoke",
            "StartActivity:nexus.invoke",
            f"state:{state}",
        ], chain
        assert chain[-1] == "StartWorkflow:traced"
        assert span.attributes is not None
        assert span.attributes["nexus.function"] == function
        assert span.attributes["nexus.state"] == state
        assert span.attributes["nexus.definition"] == "traced"

    add = named["state:Add"]
    assert add.attributes is not None
    assert add.attributes["nexus.state"] == "Add" and add.attributes["nexus.definition"] == "traced"
    assert add.end_time is not None and add.start_time is not None
    assert add.end_time >= add.start_time
    risky = named["state:Risky"]
    assert risky.status.status_code == StatusCode.ERROR
    assert risky.attributes is not None and risky.attributes["nexus.error.type"] == "Nope"
    assert named["function:boom"].status.status_code == StatusCode.ERROR
    assert named["state:Echo"].status.status_code != StatusCode.ERROR

    # Replaying the history (what a worker does after a restart or a cache eviction) makes no
    # span of its own: the interpreter records a state only when it is not replaying.
    history = await handle.fetch_history()
    before = len(exporter.get_finished_spans())
    namespace = f"replay-{uuid.uuid4().hex[:8]}"
    bind(namespace, "*", registry_of(FLOW))
    try:
        replayer = Replayer(workflows=[NexusWorkflow], namespace=namespace, interceptors=[tracing])
        await replayer.replay_workflow(history)
    finally:
        unbind(namespace, "*")
    new = [s.name for s in exporter.get_finished_spans()[before:]]
    assert not [n for n in new if n.startswith("state:")], new
