"""Adaptive retry end to end, on the real dev server: under a brownout the adaptive policy
waits longer and calls the target less than Temporal's static schedule; a spent retry budget
fails the attempt with the typed ``RetryBudgetExhausted`` error, which a ``fallback:`` serves and
a ``catch`` routes; an attempt past its start-to-close is cut on the worker (``AttemptTimedOut``)
and retried on the adaptive policy, while static keeps the server's timeout."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)

from activities.config import ProvidersConfig
from interpreters.workflow import bind
from tests.helpers import adaptive_functions as fns
from tests.helpers.run import registry_of, start
from workers.config import WorkerConfig
from workers.main import build_worker
from workers.resilience import AdaptiveRetryInterceptor, ResilienceSettings

FN = "python:tests.helpers.adaptive_functions"

BROWNOUT = """
name: brownout-{policy}
functions:
  svc:
    uri: {fn}:brownout_{policy}
    retry:
      max_attempts: 6
      initial_interval: 200ms
      maximum_interval: 2s
      policy: {policy}
states:
  - name: Call
    action: svc
    timeout: 5s
    schedule_to_close: 30s
    catch:
      - errors: ["*"]
        next: GaveUp
  - name: GaveUp
    type: pass
    output: '{{"gave_up": error.type}}'
"""

BUDGET = f"""
name: budget-fallback
defaults:
  retry: {{max_attempts: 10, initial_interval: 100ms, policy: adaptive}}
functions:
  primary: {FN}:always_down
  backup: {FN}:backup
states:
  - name: Quote
    action: primary
    fallback: [backup]
    timeout: 5s
"""

BUDGET_CATCH = f"""
name: budget-catch
functions:
  primary:
    uri: {FN}:always_down
    retry: {{max_attempts: 10, initial_interval: 100ms, policy: adaptive}}
states:
  - name: Quote
    action: primary
    timeout: 5s
    catch:
      - errors: [RetryBudgetExhausted]
        as: problem
        next: Handled
  - name: Handled
    type: pass
    output: '{{"handled": problem.type, "budget": problem.details.budget}}'
"""


@asynccontextmanager
async def adaptive_worker(
    client: Client, settings: ResilienceSettings, *texts: str
) -> AsyncIterator[tuple[Worker, AdaptiveRetryInterceptor]]:
    """A worker on a fresh queue, built as ``nexus worker`` builds it, with ``settings``."""
    config = WorkerConfig(
        task_queue=f"adaptive-{uuid.uuid4().hex[:10]}",
        providers=ProvidersConfig(),
        resilience=settings,
    )
    worker = build_worker(client, config, registry_of(*texts))
    interceptor = next(
        i for i in worker.config()["interceptors"] if isinstance(i, AdaptiveRetryInterceptor)
    )
    try:
        async with worker:
            yield worker, interceptor
    finally:
        interceptor.close()


async def run_all(
    client: Client, worker: Worker, reference: str, payloads: list[Any]
) -> tuple[list[Any], list[str]]:
    """Start one workflow per payload at once; their results and workflow ids."""
    handles = [await start(client, worker, reference, p) for p in payloads]
    return list(await asyncio.gather(*(h.result() for h in handles))), [h.id for h in handles]


async def test_brownout_adaptive_waits_longer_and_calls_less_than_static(
    env: WorkflowEnvironment,
) -> None:
    settings = ResilienceSettings(seed=7, refit_interval=1.0)
    texts = [BROWNOUT.format(policy=p, fn=FN) for p in ("static", "adaptive")]
    fns.PHASE["value"] = "healthy"
    async with adaptive_worker(env.client, settings, *texts) as (worker, interceptor):
        # Healthy traffic with two isolated glitches: quick retries.
        healthy = [{"blip": i in (2, 6)} for i in range(10)]
        for policy in ("static", "adaptive"):
            results, _ = await run_all(env.client, worker, f"brownout-{policy}", healthy)
            assert all("Call" in r for r in results), results
        blips = [d for d in interceptor.decisions if d.policy == "adaptive"]
        assert [d.reason for d in blips] == ["blip", "blip"], blips
        # Brownout: every call is slow and fails its first attempts.
        fns.PHASE["value"] = "brownout"
        try:
            runs = await asyncio.gather(
                *(
                    run_all(env.client, worker, f"brownout-{p}", [{}] * 12)
                    for p in ("static", "adaptive")
                )
            )
        finally:
            fns.PHASE["value"] = "healthy"
        adaptive_target = f"{FN}:brownout_adaptive"
        score = interceptor.score(adaptive_target)
    (static_results, static_ids), (adaptive_results, adaptive_ids) = runs
    static_calls = [fns.CALLS[("static", i)] for i in static_ids]
    adaptive_calls = [fns.CALLS[("adaptive", i)] for i in adaptive_ids]
    # Static: Temporal retries every workflow until its 5th attempt succeeds.
    assert static_calls == [fns.BROWNOUT_FAILURES + 1] * 12
    assert all(r["Call"] == {"attempts": 5} for r in static_results)
    # Adaptive: the budget sheds retries; calls per workflow fall to well under half.
    assert sum(adaptive_calls) / 12 <= 0.5 * sum(static_calls) / 12, adaptive_calls
    gave_up = [r.get("gave_up") for r in adaptive_results]
    assert "RetryBudgetExhausted" in gave_up, adaptive_results
    # The chosen delays grew: a degraded target's backoff envelope is several times the
    # healthy-phase blips' and Temporal's static delay for the same attempt.
    brown = [d for d in interceptor.decisions if d.policy == "adaptive" and d not in blips]
    degraded = [d for d in brown if d.reason == "degraded" and d.delay is not None]
    assert len(degraded) >= 2, brown
    assert all(0.1 <= (d.delay or 0) <= 0.2 and d.cap == 0.2 for d in blips)
    for d in degraded:
        assert d.cap is not None and d.static is not None and d.delay is not None
        # x (1 + 4 x score), score >= 0.5; the YAML maximum_interval (2 s) is the ceiling
        assert d.cap >= 3 * 0.2 and d.cap >= min(3 * d.static, 2.0), d
        assert 0.0 <= d.delay <= d.cap <= 2.0  # full jitter under the YAML maximum_interval
    assert any(d.reason == "budget-exhausted" for d in brown)
    assert score.degraded and score.error_slow > 0.3, score
    # The static target was scored too, but never had its delays changed.
    assert not [d for d in interceptor.decisions if d.policy == "static"]


async def test_exhausted_budget_is_typed_and_the_fallback_serves(
    env: WorkflowEnvironment,
) -> None:
    # One retry per 10 s window for the whole target, whatever the traffic.
    settings = ResilienceSettings(budget_ratio=0.0, budget_floor=1, refit_interval=0)
    async with adaptive_worker(env.client, settings, BUDGET, BUDGET_CATCH) as (worker, interceptor):
        handle = await start(env.client, worker, "budget-fallback", {"n": 1})
        served = await handle.result()
        caught_handle = await start(env.client, worker, "budget-catch", {"n": 2})
        caught = await caught_handle.result()
    # The first failure was retried (the budget's floor); the second spent the budget.
    assert fns.CALLS[("down", handle.id)] == 2
    assert served["Quote"]["served_by"] == "backup"
    assert served["Quote"]["result"] == {"served": "backup"}
    assert [f["type"] for f in served["Quote"]["failed"]] == ["RetryBudgetExhausted"]
    assert "retry budget" in served["Quote"]["failed"][0]["message"]
    assert fns.CALLS[("backup", handle.id)] == 1
    # The budget is per target and still spent: the next workflow's first failure is final.
    assert fns.CALLS[("down", caught_handle.id)] == 1
    assert caught["handled"] == "RetryBudgetExhausted"
    assert caught["budget"] == {"calls": 2, "retries": 1, "allowed": 1.0}
    reasons = [d.reason for d in interceptor.decisions]
    assert reasons == ["blip", "budget-exhausted", "budget-exhausted"], reasons


TELEMETRY = f"""
name: adaptive-telemetry
functions:
  flaky:
    uri: {FN}:blip_once
    retry: {{max_attempts: 3, initial_interval: 100ms, policy: adaptive}}
states:
  - name: Call
    action: flaky
    timeout: 5s
"""


class _SpanAround(Interceptor):
    """Runs each activity inside a recording span, as a tracing interceptor would."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        tracer = self.tracer

        class Inbound(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> Any:
                with tracer.start_as_current_span("RunActivity"):
                    return await super().execute_activity(input)

        return Inbound(next)


async def test_scores_delays_and_budget_are_metrics_and_span_attributes(
    env: WorkflowEnvironment,
) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    spans = InMemorySpanExporter()
    tracers = TracerProvider()
    tracers.add_span_processor(SimpleSpanProcessor(spans))
    settings = ResilienceSettings(seed=1, refit_interval=0)
    config = WorkerConfig(
        task_queue=f"adaptive-{uuid.uuid4().hex[:10]}",
        providers=ProvidersConfig(),
        resilience=settings,
    )
    # The worker `nexus worker` builds, with a test meter and a recording span around activities.
    registry = registry_of(TELEMETRY)
    built = build_worker(env.client, config, registry).config()  # never started
    (original,) = [i for i in built["interceptors"] if isinstance(i, AdaptiveRetryInterceptor)]
    interceptor = AdaptiveRetryInterceptor(original.invoker, settings, meter=meter)
    built["interceptors"] = [_SpanAround(tracers.get_tracer("test")), interceptor]
    built["task_queue"] = f"{config.task_queue}-otel"
    bind(env.client.namespace, built["task_queue"], registry, search_attributes=True)
    async with Worker(**built) as worker:
        handle = await start(env.client, worker, "adaptive-telemetry", {})
        result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result["Call"] == {"attempts": 2}
    target = f"{FN}:blip_once"
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    (delay,) = points["nexus.retry.delay"]
    assert delay.attributes == {"target": target, "reason": "blip"}
    assert delay.count == 1 and 0.05 <= delay.sum <= 0.1
    assert [p.value for p in points["nexus.retry.decisions"]] == [1]
    (score,) = points["nexus.retry.score"]
    assert score.attributes == {"target": target} and 0.0 < score.value < 0.5
    (budget,) = points["nexus.retry.budget.remaining"]
    # floor + min(ratio x 1 call + earn x 1 retry that succeeded, max_ratio x 1 call) - 1 spent
    assert budget.value == 3 + min(0.2 * 1 + 2 * 1, 2.0 * 1) - 1
    invoked = [
        s for s in spans.get_finished_spans() if "nexus.retry.target" in (s.attributes or {})
    ]
    failed, succeeded = sorted(invoked, key=lambda s: s.start_time or 0)
    assert failed.attributes is not None and succeeded.attributes is not None
    assert failed.attributes["nexus.retry.reason"] == "blip"
    assert failed.attributes["nexus.retry.delay"] == delay.sum
    assert failed.attributes["nexus.retry.target"] == target
    assert failed.attributes["nexus.retry.policy"] == "adaptive"
    assert succeeded.attributes["nexus.retry.degraded"] is False
    assert "nexus.retry.delay" not in succeeded.attributes


SLOW = """
name: slow-{policy}
functions:
  svc:
    uri: {fn}:slow_{policy}
    retry: {{max_attempts: 3, initial_interval: 100ms, policy: {policy}}}
states:
  - name: Call
    action: svc
    timeout: 1s
    catch:
      - errors: ["*"]
        as: problem
        next: Failed
  - name: Failed
    type: pass
    output: '{{"type": problem.type, "message": problem.message}}'
"""


async def _last_failure(handle: Any) -> tuple[str, Any]:
    """The kind of the activity's final failure event in history, and its failure."""
    history = await handle.fetch_history()
    for event in reversed(history.events):
        if event.HasField("activity_task_failed_event_attributes"):
            return "failed", event.activity_task_failed_event_attributes.failure
        if event.HasField("activity_task_timed_out_event_attributes"):
            return "timed_out", event.activity_task_timed_out_event_attributes.failure
    raise AssertionError("no activity failure in history")


async def test_adaptive_governs_timed_out_attempts_static_keeps_the_servers(
    env: WorkflowEnvironment,
) -> None:
    # One retry per window for the target: the second timeout finds the budget spent.
    settings = ResilienceSettings(budget_ratio=0.0, budget_floor=1, refit_interval=0, seed=3)
    texts = [SLOW.format(policy=p, fn=FN) for p in ("static", "adaptive")]
    async with adaptive_worker(env.client, settings, *texts) as (worker, interceptor):
        static_h = await start(env.client, worker, "slow-static", {})
        adaptive_h = await start(env.client, worker, "slow-adaptive", {})
        static, adaptive = await asyncio.wait_for(
            asyncio.gather(static_h.result(), adaptive_h.result()), timeout=60
        )
        target = f"{FN}:slow_adaptive"
        snap = interceptor.budget.snapshot(target, interceptor.clock())
        score = interceptor.score(target)
        static_failure = await _last_failure(static_h)
        adaptive_failure = await _last_failure(adaptive_h)
    # Adaptive: the worker cut each attempt at 0.9 s (1 s less min(10%, 1 s)) and decided the
    # retry itself: a quick one the budget paid for, then the budget was spent.
    decisions = [d for d in interceptor.decisions if d.function == "svc"]
    assert [(d.error_type, d.reason, d.attempt) for d in decisions] == [
        ("AttemptTimedOut", "blip", 1),
        ("AttemptTimedOut", "budget-exhausted", 2),
    ], decisions
    assert decisions[0].delay is not None and 0.05 <= decisions[0].delay <= 0.1
    assert all(d.workflow_id == adaptive_h.id for d in decisions)
    assert fns.CALLS[("slow-adaptive", adaptive_h.id)] == 2
    assert snap.retries == 1 and snap.remaining <= 0, snap
    assert score.value > 0, score  # the timeouts were scored
    assert adaptive["type"] == "RetryBudgetExhausted", adaptive
    assert (
        "AttemptTimedOut" in adaptive["message"]
        and "timed out on the worker" in (adaptive["message"])
    )
    kind, failure = adaptive_failure
    assert kind == "failed"
    assert failure.application_failure_info.type == "RetryBudgetExhausted"
    assert failure.application_failure_info.non_retryable
    # Static: untouched; the server timed out all three attempts and routed `Timeout`.
    assert fns.CALLS[("slow-static", static_h.id)] == 3
    assert static == {"type": "Timeout", "message": "timed out (start_to_close)"}, static
    kind, failure = static_failure
    assert kind == "timed_out"
    assert not [d for d in interceptor.decisions if d.policy == "static"]


SLOW_TIMEOUT = f"""
name: slow-timeout
functions:
  svc:
    uri: {FN}:slow_adaptive
    retry: {{max_attempts: 2, initial_interval: 100ms, policy: adaptive}}
states:
  - name: Call
    action: svc
    timeout: 1s
    catch:
      - errors: [Timeout]
        as: problem
        next: TimedOut
  - name: TimedOut
    type: pass
    output: '{{"type": problem.type, "message": problem.message}}'
"""


async def test_worker_side_timeout_of_the_last_attempt_routes_as_timeout(
    env: WorkflowEnvironment,
) -> None:
    settings = ResilienceSettings(refit_interval=0, seed=5)
    async with adaptive_worker(env.client, settings, SLOW_TIMEOUT) as (worker, interceptor):
        handle = await start(env.client, worker, "slow-timeout", {})
        result = await asyncio.wait_for(handle.result(), timeout=60)
        kind, failure = await _last_failure(handle)
    # Attempt 1 timed out on the worker and was retried on the adaptive delay; attempt 2 was
    # the last: its AttemptTimedOut ends the task and a `catch` on `Timeout` routes it.
    assert [(d.error_type, d.reason) for d in interceptor.decisions] == [
        ("AttemptTimedOut", "blip")
    ]
    assert fns.CALLS[("slow-adaptive", handle.id)] == 2
    assert result["type"] == "Timeout", result
    assert result["message"].startswith("timed out (start_to_close): function 'svc': attempt 2")
    assert kind == "failed" and failure.application_failure_info.type == "AttemptTimedOut"
