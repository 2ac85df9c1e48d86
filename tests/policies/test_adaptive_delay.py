"""The adaptive delay: blip, degraded full jitter, breaker, Retry-After, clamping, attempts."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.adaptive import (
    DEGRADED_STRETCH,
    RetryContext,
    choose_delay,
    static_delay,
    stressed,
)
from policies.scorer import Score

HEALTHY = Score(0.1, 0.0, 0.1, 0.0, 0.0, 0.0, None, False)
DEGRADED = Score(0.8, 9.0, 0.9, 0.4, 0.0, 0.5, None, True)


def ctx(**overrides: object) -> RetryContext:
    base: dict[str, object] = dict(
        attempt=1,
        max_attempts=5,
        initial=1.0,
        maximum=60.0,
        coefficient=2.0,
        remaining=None,
        breaker_remaining=None,
        retry_after=None,
    )
    base.update(overrides)
    return RetryContext(**base)  # type: ignore[arg-type]


def test_blip_retries_quickly() -> None:
    decision = choose_delay(HEALTHY, ctx(attempt=3), random.Random(0))
    assert decision.reason == "blip"
    assert decision.delay is not None and 0.5 <= decision.delay <= 1.0


def test_degraded_backs_off_longer_than_static_on_average() -> None:
    rng = random.Random(0)
    for attempt in (1, 2, 3, 4):
        c = ctx(attempt=attempt)
        delays = [choose_delay(DEGRADED, c, rng).delay for _ in range(2000)]
        mean = sum(d for d in delays if d is not None) / len(delays)
        static = static_delay(c).delay
        assert static is not None and mean > static
    assert choose_delay(DEGRADED, ctx(), rng).reason == "degraded"


def test_degraded_delays_grow_with_attempts() -> None:
    rng = random.Random(1)
    means = []
    for attempt in (1, 2, 3, 4):
        ds = [choose_delay(DEGRADED, ctx(attempt=attempt), rng).delay or 0.0 for _ in range(500)]
        means.append(sum(ds) / len(ds))
    assert means == sorted(means)


def test_breaker_open_waits_its_remaining_time_plus_jitter() -> None:
    rng = random.Random(0)
    delays = [choose_delay(HEALTHY, ctx(breaker_remaining=7.5), rng) for _ in range(200)]
    assert all(d.reason == "breaker-open" for d in delays)
    waits = [d.delay or 0.0 for d in delays]
    # never before the breaker half-opens, spread over at most one initial interval after it
    assert all(7.5 <= w <= 7.5 + ctx().initial for w in waits)
    assert max(waits) - min(waits) > 0.5 * ctx().initial  # not all at the same instant


def test_retry_after_is_honoured_and_the_longer_wait_wins() -> None:
    assert choose_delay(HEALTHY, ctx(retry_after=3.0), random.Random(0)).delay == 3.0
    both = choose_delay(DEGRADED, ctx(retry_after=3.0, breaker_remaining=2.0), random.Random(0))
    assert both.delay == 3.0 and both.reason == "retry-after"


def test_no_retry_past_max_attempts_or_deadline() -> None:
    assert choose_delay(HEALTHY, ctx(attempt=5), random.Random(0)).delay is None
    assert choose_delay(HEALTHY, ctx(remaining=0.0), random.Random(0)).delay is None
    too_late = choose_delay(HEALTHY, ctx(retry_after=10.0, remaining=5.0), random.Random(0))
    assert too_late.delay is None and "no time left" in too_late.reason


def test_unlimited_attempts() -> None:
    for unlimited in (None, 0):
        c = ctx(attempt=1000, max_attempts=unlimited)
        assert choose_delay(HEALTHY, c, random.Random(0)).delay is not None
        assert static_delay(c).delay == 60.0


def test_static_delay_is_temporals_schedule() -> None:
    assert [static_delay(ctx(attempt=n)).delay for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert static_delay(ctx(attempt=10, max_attempts=None)).delay == 60.0
    # maximum 0 (unset): Temporal caps at 100 x initial
    assert static_delay(ctx(attempt=30, max_attempts=None, maximum=0.0)).delay == 100.0
    assert static_delay(ctx(attempt=5)).delay is None
    assert static_delay(ctx(attempt=3, remaining=3.0)).delay is None
    assert static_delay(ctx(retry_after=9.0)).delay == 9.0


def test_seeded_rng_is_deterministic() -> None:
    a = [choose_delay(DEGRADED, ctx(attempt=2), random.Random(42)).delay for _ in range(3)]
    b = [choose_delay(DEGRADED, ctx(attempt=2), random.Random(42)).delay for _ in range(3)]
    assert a == b


scores = st.builds(
    lambda value, degraded: Score(value, 0.0, value, 0.0, 0.0, 0.0, None, degraded),
    st.floats(0.0, 1.0),
    st.booleans(),
)
contexts = st.builds(
    RetryContext,
    attempt=st.integers(1, 200),
    max_attempts=st.one_of(st.none(), st.integers(0, 50)),
    initial=st.floats(0.001, 30.0),
    maximum=st.one_of(st.just(0.0), st.floats(0.001, 600.0)),
    coefficient=st.floats(1.0, 10.0),
    remaining=st.one_of(st.none(), st.floats(0.0, 1000.0)),
    breaker_remaining=st.one_of(st.none(), st.floats(0.0, 120.0)),
    retry_after=st.one_of(st.none(), st.floats(0.0, 300.0)),
)


@settings(max_examples=500, deadline=None)
@given(scores, contexts, st.integers(0, 2**32))
def test_delay_properties(score: Score, c: RetryContext, seed: int) -> None:
    decision = choose_delay(score, c, random.Random(seed))
    if c.max_attempts and c.attempt >= c.max_attempts:
        assert decision.delay is None  # never retries past max attempts
        return
    if decision.delay is None:
        assert c.remaining is not None  # only the deadline stops an allowed retry
        return
    assert decision.delay >= 0.0
    if c.remaining is not None:
        assert decision.delay < c.remaining  # within the remaining schedule-to-close
    waits = [w for w in (c.breaker_remaining, c.retry_after) if w is not None and w > 0]
    if waits and decision.reason == "breaker-open":
        # the breaker's remaining time, plus a jitter of at most one initial interval
        assert max(waits) <= decision.delay <= max(waits) + min(c.initial, c.ceiling) + 1e-9
    elif waits:
        assert decision.delay == max(waits)  # Retry-After honoured exactly
    elif score.degraded:
        cap = min(c.exponential() * (1 + DEGRADED_STRETCH * score.value), c.ceiling)
        assert 0.0 <= decision.delay <= cap  # full-jitter bounds
        if c.remaining is not None:  # half the time left stays for the retry itself
            assert decision.delay <= c.remaining / 2.0
        assert decision.delay <= c.ceiling  # the YAML maximum is the ceiling
    else:
        quick = min(c.initial, c.ceiling)
        assert 0.5 * quick <= decision.delay <= quick


@settings(max_examples=300, deadline=None)
@given(contexts)
def test_static_delay_properties(c: RetryContext) -> None:
    decision = static_delay(c)
    if c.max_attempts and c.attempt >= c.max_attempts:
        assert decision.delay is None
    elif decision.delay is not None:
        if c.remaining is not None:
            assert decision.delay < c.remaining
        if not (c.retry_after and c.retry_after > 0):
            assert decision.delay <= c.ceiling


def test_decision_reports_its_jitter_envelope() -> None:
    blip = choose_delay(HEALTHY, ctx(), random.Random(0))
    assert blip.cap == 1.0
    degraded = choose_delay(DEGRADED, ctx(attempt=2), random.Random(0))
    assert degraded.cap == min(2.0 * (1 + DEGRADED_STRETCH * 0.8), 60.0)
    assert degraded.delay is not None and degraded.delay <= degraded.cap
    waited = choose_delay(HEALTHY, ctx(retry_after=4.0), random.Random(0))
    assert waited.cap == waited.delay == 4.0
    assert choose_delay(HEALTHY, ctx(attempt=5), random.Random(0)).cap is None


def test_stressed_counts_timeouts_throttles_and_load_not_errors() -> None:
    calm = Score(0.6, 0.0, 0.9, 0.5, 0.0, 0.0, None, True)  # failing fast, at its usual speed
    assert not stressed(calm)
    assert stressed(calm, timed_out=True) and stressed(calm, throttled=True)
    assert stressed(Score(0.6, 9.0, 0.0, 0.0, 0.0, 0.0, None, True, stress=0.7))
