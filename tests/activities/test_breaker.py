"""The circuit breaker: rates over a window, open / half-open / closed, metrics; and end to end,
a failure burst opening a Lambda target's breaker on the real dev server."""

from __future__ import annotations

import logging
import time

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.breaker import (
    BREAKERS,
    BreakerRegistry,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    Outcome,
)
from activities.config import ProvidersConfig
from activities.emulators.aws_lambda import LambdaEmulator
from tests.helpers.run import nexus_worker, start


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


SETTINGS = BreakerSettings(
    window_size=4,
    minimum_calls=4,
    failure_rate=50,
    slow_call_rate=75,
    slow_call_duration=1.0,
    open_duration=10.0,
    half_open_calls=2,
)


def calls(breaker: CircuitBreaker, clock: Clock, *outcomes: Outcome, took: float = 0.0) -> None:
    for outcome in outcomes:
        permit = breaker.acquire()
        clock.now += took
        breaker.record(permit, outcome)


def test_opens_at_the_failure_rate_only_after_minimum_calls() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t", SETTINGS, clock=clock)
    calls(breaker, clock, Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS)
    assert breaker.state is BreakerState.CLOSED  # 3 < minimum_calls
    calls(breaker, clock, Outcome.SUCCESS)
    assert breaker.state is BreakerState.OPEN  # 2 of 4 = 50%
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert info.value.retry_in == pytest.approx(10.0)
    clock.now += 4
    assert breaker.retry_in() == pytest.approx(6.0)


def test_window_slides_and_ignored_calls_do_not_count() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t", SETTINGS, clock=clock)
    calls(breaker, clock, Outcome.FAILURE, *[Outcome.SUCCESS] * 3)  # 25%
    calls(breaker, clock, *[Outcome.IGNORED] * 5)
    calls(breaker, clock, Outcome.SUCCESS, Outcome.FAILURE)  # window: S S S F
    assert breaker.state is BreakerState.CLOSED
    calls(breaker, clock, Outcome.FAILURE)  # window: S S F F = 50%
    assert breaker.state is BreakerState.OPEN


def test_opens_at_the_slow_call_rate() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t", SETTINGS, clock=clock)
    calls(breaker, clock, *[Outcome.SUCCESS] * 3, took=1.5)
    calls(breaker, clock, Outcome.SUCCESS)
    assert breaker.state is BreakerState.OPEN  # 3 of 4 slow = 75%


def test_half_open_probes_close_or_reopen() -> None:
    clock = Clock()
    breaker = CircuitBreaker("t", SETTINGS, clock=clock)
    calls(breaker, clock, *[Outcome.FAILURE] * 4)
    clock.now += 10
    assert breaker.state is BreakerState.HALF_OPEN
    first, second = breaker.acquire(), breaker.acquire()
    with pytest.raises(CircuitOpenError):
        breaker.acquire()  # only half_open_calls probes at a time
    breaker.record(first, Outcome.SUCCESS)
    breaker.record(second, Outcome.FAILURE)
    assert breaker.state is BreakerState.OPEN  # 1 of 2 probes failed = 50%
    clock.now += 10
    calls(breaker, clock, Outcome.SUCCESS, Outcome.SUCCESS)
    assert breaker.state is BreakerState.CLOSED


def test_transitions_are_logged_and_exported_as_metrics(caplog: pytest.LogCaptureFixture) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    clock = Clock()
    registry = BreakerRegistry(meter, clock=clock)
    breaker = registry.get("fn-target", SETTINGS)
    with caplog.at_level(logging.WARNING, logger="nexus.breaker"):
        calls(breaker, clock, *[Outcome.FAILURE] * 4)
        registry.rejected("fn-target")
    assert "circuit breaker for 'fn-target': closed -> open" in caplog.text
    data = reader.get_metrics_data()
    assert data is not None
    points = {
        m.name: list(m.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    (transition,) = points["nexus.breaker.transitions"]
    assert transition.attributes == {"target": "fn-target", "from": "closed", "to": "open"}
    assert points["nexus.breaker.rejected"][0].value == 1
    assert points["nexus.breaker.state"][0].value == 2
    assert registry.get("fn-target", SETTINGS) is breaker  # same settings, same breaker


def test_settings_from_yaml_mapping_keep_defaults() -> None:
    settings = BreakerSettings.from_mapping({"minimum_calls": 3, "open_duration": 2.0})
    assert (settings.minimum_calls, settings.open_duration) == (3, 2.0)
    assert settings.failure_rate == BreakerSettings().failure_rate
    assert not BreakerSettings.from_mapping(None, enabled=False).enabled


async def test_failure_burst_opens_fails_fast_probes_and_closes(
    env: WorkflowEnvironment,
    aws: ProvidersConfig,
    lambda_emulator: LambdaEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    yaml = """
    name: breaker-flow
    functions:
      fn:
        uri: aws-lambda:echo
        circuit_breaker:
          window_size: 4
          minimum_calls: 4
          failure_rate: 50
          open_duration: 2s
          half_open_calls: 1
    states:
      - name: Call
        action: fn
        timeout: 5s
        retry: {max_attempts: 8, initial_interval: 50ms, backoff_coefficient: 1}
    """
    lambda_emulator.faults.set("echo", fail_next=4)  # a burst of 4 server errors
    with caplog.at_level(logging.WARNING, logger="nexus.breaker"):
        async with nexus_worker(env.client, yaml, providers=aws) as w:
            started = time.monotonic()
            handle = await start(env.client, w, "breaker-flow", {"n": 1})
            result = await handle.result()
            elapsed = time.monotonic() - started
    assert result["Call"]["echo"] == {"n": 1}
    stats = lambda_emulator.faults.stats("echo")
    # 4 failures open it; attempt 5 is refused without calling the function (CircuitOpen,
    # next retry after the 2s open duration); attempt 6 is the half-open probe and succeeds.
    assert (stats.requests, stats.errors) == (5, 4)
    assert elapsed >= 1.5
    history = await handle.fetch_history()
    started_events = [
        e.activity_task_started_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert started_events[-1].attempt == 6
    assert started_events[-1].last_failure.application_failure_info.type == "CircuitOpen"
    for change in ("closed -> open", "open -> half_open", "half_open -> closed"):
        assert change in caplog.text
    target = f"aws-lambda:{lambda_emulator.url}/eu-west-1:echo:$LATEST"
    found = BREAKERS.find(target)
    assert found is not None and found.state is BreakerState.CLOSED
