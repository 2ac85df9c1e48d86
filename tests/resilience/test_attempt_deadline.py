"""The adaptive policy's worker-side attempt deadline: how long an attempt may run, and how the
workflow classifies the ``AttemptTimedOut`` it ends with (routing and uncertain outcomes).
The end-to-end behaviour is in tests/e2e/test_adaptive_retry.py."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.testing import ActivityEnvironment

from interpreters.errors import from_temporal
from interpreters.uncertain import is_uncertain
from nexus_temporal.dsl.schema import RetrySpec
from workers.resilience import AdaptiveRetryInterceptor, ResilienceSettings

T0 = 1_700_000_000.0
SCHEDULED = datetime.fromtimestamp(T0, UTC)


def _limit(stc: float | None, s2c: float | None = None, *, now: float = T0) -> float | None:
    info = dataclasses.replace(
        ActivityEnvironment.default_info(),
        start_to_close_timeout=timedelta(seconds=stc) if stc is not None else None,
        schedule_to_close_timeout=timedelta(seconds=s2c) if s2c is not None else None,
        scheduled_time=SCHEDULED,
    )
    interceptor = AdaptiveRetryInterceptor(
        settings=ResilienceSettings(refit_interval=0), wall=lambda: now
    )
    return interceptor.attempt_timeout(info)


@pytest.mark.parametrize(
    ("stc", "s2c", "now", "expected"),
    [
        (1.0, None, T0, 0.9),  # 10% margin
        (3.0, None, T0, 2.7),
        (30.0, None, T0, 29.0),  # the margin is at most 1 s
        (5.0, 20.0, T0 + 17.0, 2.5),  # 3 s left of the schedule-to-close, less the 0.5 s margin
        (5.0, 20.0, T0 + 19.8, 4.5),  # no time left past the margin: the server's deadline ends it
        (None, 20.0, T0, None),  # no start-to-close: nothing to enforce
    ],
)
def test_attempt_timeout(
    stc: float | None, s2c: float | None, now: float, expected: float | None
) -> None:
    got = _limit(stc, s2c, now=now)
    assert got == pytest.approx(expected) if expected is not None else got is None


def _activity_error(cause: ApplicationError, retry_state: RetryState) -> ActivityError:
    error = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="test",
        activity_type="nexus.invoke",
        activity_id="1",
        retry_state=retry_state,
    )
    error.__cause__ = cause
    return error


def test_worker_timeout_routes_as_timeout_and_is_uncertain() -> None:
    cause = ApplicationError("function 'svc': attempt 3 timed out", type="AttemptTimedOut")
    exc = _activity_error(cause, RetryState.MAXIMUM_ATTEMPTS_REACHED)
    error = from_temporal(exc, "Call")
    assert (error.type, error.state) == ("Timeout", "Call")
    assert error.message == "timed out (start_to_close): function 'svc': attempt 3 timed out"
    adaptive = RetrySpec(policy="adaptive")
    assert is_uncertain(exc, adaptive)
    # Even listed non-retryable, a timed-out attempt may have done its work.
    final = ApplicationError("timed out", type="AttemptTimedOut", non_retryable=True)
    declared = RetrySpec(policy="adaptive", non_retryable=("AttemptTimedOut",))
    assert is_uncertain(_activity_error(final, RetryState.NON_RETRYABLE_FAILURE), declared)
    # A declared business error stays certain.
    business = ApplicationError("no", type="CardDeclined", non_retryable=True)
    listed = RetrySpec(policy="adaptive", non_retryable=("CardDeclined",))
    assert not is_uncertain(_activity_error(business, RetryState.NON_RETRYABLE_FAILURE), listed)
