"""The anomaly scorer: robust latency score, error EWMAs, throttles, timeouts, forest, caution."""

from __future__ import annotations

import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.scorer import AnomalyScorer, Attempt, Outcome


def feed(
    scorer: AnomalyScorer,
    target: str,
    latencies: list[float],
    outcome: Outcome = Outcome.OK,
    start: float = 0.0,
    step: float = 0.1,
) -> float:
    now = start
    for latency in latencies:
        scorer.record(Attempt(target, now, latency, outcome))
        now += step
    return now


def test_unknown_target_is_not_degraded() -> None:
    score = AnomalyScorer().score("nobody", 0.0)
    assert score.value == 0.0 and not score.degraded and score.forest is None


def test_healthy_target_scores_low() -> None:
    scorer = AnomalyScorer()
    rng = random.Random(1)
    now = feed(scorer, "a", [0.1 + rng.uniform(-0.01, 0.01) for _ in range(60)])
    score = scorer.score("a", now)
    assert abs(score.latency_z) < 2.0
    assert score.value < 0.1 and not score.degraded
    assert score.samples == 60


def test_latency_brownout_raises_robust_z_and_degrades() -> None:
    scorer = AnomalyScorer()
    rng = random.Random(2)
    now = feed(scorer, "a", [0.1 + rng.uniform(-0.01, 0.01) for _ in range(45)])
    now = feed(scorer, "a", [1.0] * 5, start=now)
    score = scorer.score("a", now)
    assert score.latency_z > 20
    assert score.degraded and score.value >= 0.5


def test_one_slow_outlier_does_not_move_the_median_score() -> None:
    scorer = AnomalyScorer()
    now = feed(scorer, "a", [0.1] * 40 + [5.0] + [0.1] * 4)
    assert scorer.score("a", now).latency_z == 0.0


def test_isolated_error_is_a_blip_repeated_errors_degrade() -> None:
    scorer = AnomalyScorer()
    now = feed(scorer, "a", [0.1] * 30)
    now = feed(scorer, "a", [0.1], Outcome.ERROR, start=now)
    blip = scorer.score("a", now)
    assert 0.2 < blip.error_fast < 0.4
    assert not blip.degraded
    now = feed(scorer, "a", [0.1] * 3, Outcome.ERROR, start=now)
    assert scorer.score("a", now).degraded


def test_error_rates_fast_and_slow_ewmas() -> None:
    scorer = AnomalyScorer(fast_alpha=0.5, slow_alpha=0.1)
    now = feed(scorer, "a", [0.1] * 2, Outcome.ERROR, step=0.0)
    score = scorer.score("a", now)
    assert abs(score.error_fast - 0.75) < 1e-9
    assert abs(score.error_slow - 0.19) < 1e-9


def test_idle_target_error_rates_decay() -> None:
    scorer = AnomalyScorer(fast_half_life=5.0)
    now = feed(scorer, "a", [0.1] * 5, Outcome.ERROR)
    fresh = scorer.score("a", now)
    later = scorer.score("a", now + 5.0)
    assert abs(later.error_fast - fresh.error_fast / 2) < 1e-9
    assert later.value < fresh.value


def test_throttles_and_timeouts_have_their_own_rates() -> None:
    scorer = AnomalyScorer()
    now = feed(scorer, "t", [0.1] * 3, Outcome.THROTTLED)
    scorer.record(Attempt("t", now, 0.1, Outcome.ERROR, retry_after=2.0))
    score = scorer.score("t", now + 0.1)
    assert score.throttle_rate > 0.6 and score.timeout_rate == 0.0
    now = feed(scorer, "o", [3.0] * 3, Outcome.TIMEOUT)
    score = scorer.score("o", now)
    assert score.timeout_rate > 0.6 and score.throttle_rate == 0.0
    assert score.degraded


def test_targets_are_independent() -> None:
    scorer = AnomalyScorer()
    feed(scorer, "bad", [0.1] * 5, Outcome.ERROR)
    now = feed(scorer, "good", [0.1] * 5)
    assert scorer.score("bad", now).degraded
    assert not scorer.score("good", now).degraded
    assert sorted(scorer.targets()) == ["bad", "good"]


def test_caution_hook_raises_the_score_until_it_expires() -> None:
    scorer = AnomalyScorer()
    now = feed(scorer, "down", [0.1] * 10)
    scorer.caution("down", 0.8, until=now + 10)
    score = scorer.score("down", now)
    assert score.degraded and score.caution == 0.8
    assert not scorer.score("down", now + 11).degraded
    scorer.caution("down", 0.0, until=now + 20)
    assert scorer.score("down", now + 1).caution == 0.0


def test_features_vector() -> None:
    scorer = AnomalyScorer()
    scorer.record(Attempt("a", 0.0, 0.25, Outcome.THROTTLED, concurrency=4))
    latency, errors, concurrency, throttles = scorer.features("a")
    assert latency == 0.25 and concurrency == 4.0
    assert errors > 0 and throttles > 0
    assert scorer.features("none") == (0.0, 0.0, 1.0, 0.0)


def test_forest_refit_flags_an_outlier_and_expires() -> None:
    scorer = AnomalyScorer(forest_min_samples=32, forest_ttl=30.0)
    rng = random.Random(3)
    now = feed(scorer, "a", [0.1 + rng.uniform(-0.005, 0.005) for _ in range(100)])
    assert scorer.refit(now) == 1
    normal = scorer.score("a", now).forest
    assert normal is not None and normal < 0.3
    scorer.record(Attempt("a", now, 4.0, Outcome.TIMEOUT, concurrency=20))
    scorer.refit(now + 1)
    outlier = scorer.score("a", now + 1).forest
    assert outlier is not None and outlier > normal + 0.2
    assert scorer.score("a", now + 100).forest is None


def test_refit_skips_targets_with_too_few_samples() -> None:
    scorer = AnomalyScorer(forest_min_samples=32)
    now = feed(scorer, "a", [0.1] * 10)
    assert scorer.refit(now) == 0
    assert scorer.score("a", now).forest is None


def test_record_and_score_are_microseconds() -> None:
    scorer = AnomalyScorer()
    started = time.perf_counter()
    for i in range(2000):
        scorer.record(Attempt("a", i * 0.01, 0.1, Outcome.OK))
        scorer.score("a", i * 0.01)
    per_call = (time.perf_counter() - started) / 2000
    assert per_call < 500e-6, per_call  # generous for a shared 2-core machine


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 60.0),
            st.sampled_from(list(Outcome)),
            st.integers(1, 100),
            st.one_of(st.none(), st.floats(0.0, 300.0)),
        ),
        max_size=80,
    ),
    st.floats(0.0, 1000.0),
)
def test_score_is_always_bounded(
    attempts: list[tuple[float, Outcome, int, float | None]], later: float
) -> None:
    scorer = AnomalyScorer(window=20)
    now = 0.0
    for latency, outcome, concurrency, retry_after in attempts:
        scorer.record(Attempt("x", now, latency, outcome, concurrency, retry_after))
        now += latency
    score = scorer.score("x", now + later)
    for rate in (score.error_fast, score.error_slow, score.throttle_rate, score.timeout_rate):
        assert 0.0 <= rate <= 1.0
    assert 0.0 <= score.value <= 1.0
    assert score.degraded == (score.value >= scorer.threshold)


def test_millisecond_jitter_of_a_fast_target_is_not_an_anomaly() -> None:
    scorer = AnomalyScorer()
    now = feed(scorer, "fast", [0.005] * 40 + [0.02] * 5)  # a busy machine, not a brownout
    assert scorer.score("fast", now).latency_z < 2.0
    now = feed(scorer, "fast", [0.15] * 5, start=now)
    assert scorer.score("fast", now).latency_z > 8.0
