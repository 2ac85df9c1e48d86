"""The breaker under the adaptive policy: random fast errors at 20-50% do not open it; an
outage (near-100% failures) or stressed calls (timeouts, throttles, load) do. And the scorer's
load part (``Score.stress``) that judges a call stressed."""

from __future__ import annotations

import random

from activities.breaker import (
    ADAPTIVE_DEFAULTS,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
    Outcome,
)
from policies.adaptive import stressed
from policies.scorer import AnomalyScorer, Attempt
from policies.scorer import Outcome as Attempted


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def adaptive_breaker() -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    settings = BreakerSettings.from_mapping(None, adaptive=True)
    return CircuitBreaker("t", settings, clock=clock), clock


def test_adaptive_defaults_and_explicit_settings_win() -> None:
    s = BreakerSettings.from_mapping(None, adaptive=True)
    assert (s.failure_rate, s.slow_call_rate) == (95.0, 50.0) == tuple(ADAPTIVE_DEFAULTS.values())
    assert BreakerSettings.from_mapping({"failure_rate": 60}, adaptive=True).failure_rate == 60
    assert BreakerSettings.from_mapping(None) == BreakerSettings()  # static: unchanged


def test_random_fast_errors_do_not_open_it() -> None:
    for rate, limit in ((0.2, 0), (0.5, 3)):
        breaker, clock = adaptive_breaker()
        rng = random.Random(7)
        opened = 0
        for _ in range(5000):
            clock.now += 0.1
            if breaker.state is not BreakerState.CLOSED:
                opened += 1
                breaker, clock = adaptive_breaker()
            permit = breaker.acquire()
            failed = rng.random() < rate
            breaker.record(permit, Outcome.FAILURE if failed else Outcome.SUCCESS, slow=False)
        # 20%: never; 50%: 19 failures out of 20 happen by chance, rarely (p ~ 2e-5 per call)
        assert opened <= limit, (rate, opened)
    # the static defaults open at 50% over 20 calls
    static = CircuitBreaker("t", BreakerSettings(), clock=Clock())
    for i in range(10):
        static.record(static.acquire(), Outcome.FAILURE if i % 2 else Outcome.SUCCESS)
    assert static.state is BreakerState.OPEN  # 5 failures of 10


def test_an_outage_opens_it() -> None:
    breaker, _ = adaptive_breaker()
    for _ in range(10):
        breaker.record(breaker.acquire(), Outcome.FAILURE, slow=False)
    assert breaker.state is BreakerState.OPEN


def test_stressed_calls_open_it() -> None:
    breaker, _ = adaptive_breaker()
    for i in range(10):
        assert breaker.state is BreakerState.CLOSED
        # half the calls time out (stressed), the others succeed
        failed = bool(i % 2)
        breaker.record(
            breaker.acquire(), Outcome.FAILURE if failed else Outcome.SUCCESS, slow=failed
        )
    assert breaker.state is BreakerState.OPEN  # 5 of 10 stressed: 50%


def test_score_stress_ignores_error_rates_and_refusal_latencies() -> None:
    scorer = AnomalyScorer()
    now = 0.0
    for i in range(60):
        # a healthy 250 ms target that starts refusing half its calls in 10 ms
        failed = i >= 30 and i % 2 == 0
        latency = 0.01 if failed else 0.25
        scorer.record(Attempt("t", now, latency, Attempted.ERROR if failed else Attempted.OK))
        now += 0.3
    sc = scorer.score("t", now)
    assert sc.error_fast > 0.3 and sc.stress < 0.1  # errors, but no load
    assert abs(sc.latency_z) < 2  # the refusals did not drag the latency baseline down
    assert not stressed(sc)
    for _ in range(5):
        scorer.record(Attempt("t", now, 5.0, Attempted.TIMEOUT))
        now += 5.0
    loaded = scorer.score("t", now)
    assert loaded.stress >= 0.5 and stressed(loaded)
