"""The retry budget: retries at most floor + min(ratio * calls + earn * successes,
max_ratio * calls) in a sliding window, per target."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.budget import RetryBudget


def test_floor_allows_retries_without_traffic() -> None:
    budget = RetryBudget(ratio=0.2, floor=3, window=10.0)
    assert [budget.try_spend("a", 0.0) for _ in range(4)] == [True, True, True, False]


def test_ratio_of_calls_in_window() -> None:
    budget = RetryBudget(ratio=0.2, floor=1, window=10.0)
    for i in range(10):
        budget.record_call("a", i * 0.1)
    # floor 1 + 0.2 * 10 calls = 3 retries
    spent = [budget.try_spend("a", 1.0) for _ in range(5)]
    assert spent == [True, True, True, False, False]
    snap = budget.snapshot("a", 1.0)
    assert (snap.calls, snap.retries, snap.allowed, snap.remaining) == (10, 3, 3.0, 0.0)


def test_window_slides_and_budget_recovers() -> None:
    budget = RetryBudget(ratio=0.0, floor=2, window=5.0)
    assert budget.try_spend("a", 0.0) and budget.try_spend("a", 1.0)
    assert not budget.try_spend("a", 4.9)
    assert budget.try_spend("a", 5.0)  # the retry at 0.0 left the window
    assert budget.snapshot("a", 20.0).retries == 0


def test_targets_have_separate_budgets() -> None:
    budget = RetryBudget(ratio=0.0, floor=1)
    assert budget.try_spend("a", 0.0)
    assert not budget.try_spend("a", 0.0)
    assert budget.try_spend("b", 0.0)


def test_successful_retries_earn_budget_back() -> None:
    # a flaky but healthy target: half its retries succeed, so its retries pay for themselves
    budget = RetryBudget(ratio=0.2, floor=0, window=10.0, earn=2.0, max_ratio=2.0)
    for i in range(10):
        budget.record_call("a", i * 0.1)
    granted = 0
    for i in range(40):
        if budget.try_spend("a", 1.0 + i * 0.01):
            granted += 1
            if granted % 2 == 0:
                budget.record_retry_success("a", 1.0 + i * 0.01)
    # without earning: 0.2 * 10 = 2 retries; with it, up to the max_ratio cap of 2 per call
    assert granted == 20
    snap = budget.snapshot("a", 1.5)
    assert snap.successes == 10 and snap.allowed == 20.0 and snap.remaining == 0.0
    assert not budget.try_spend("a", 1.5)


def test_failing_retries_fall_back_to_the_base_ratio() -> None:
    # an overloaded target: its retries fail, nothing is earned, the base ratio caps them
    budget = RetryBudget(ratio=0.2, floor=3, window=10.0)
    for i in range(50):
        budget.record_call("a", i * 0.1)
    granted = sum(budget.try_spend("a", 5.0) for _ in range(100))
    assert granted == 3 + 10  # floor + 0.2 * 50


def test_earn_zero_is_the_fixed_budget() -> None:
    budget = RetryBudget(ratio=0.0, floor=1, earn=0.0)
    assert budget.try_spend("a", 0.0)
    budget.record_retry_success("a", 0.0)
    assert not budget.try_spend("a", 0.0)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.integers(0, 5),
    st.floats(0.0, 3.0),
    st.floats(0.0, 3.0),
    st.lists(st.tuples(st.integers(0, 2), st.floats(0.0, 2.0)), max_size=200),
)
def test_retries_never_exceed_the_allowance(
    ratio: float, floor: int, earn: float, max_ratio: float, events: list[tuple[int, float]]
) -> None:
    budget = RetryBudget(ratio=ratio, floor=floor, window=10.0, earn=earn, max_ratio=max_ratio)
    now = 0.0
    for kind, step in events:
        now += step
        if kind == 0:
            budget.record_call("t", now)
            continue
        if kind == 1:
            budget.record_retry_success("t", now)
            continue
        before = budget.snapshot("t", now)
        granted = budget.try_spend("t", now)
        after = budget.snapshot("t", now)
        earned = min(
            ratio * before.calls + earn * before.successes, max(max_ratio, ratio) * before.calls
        )
        # granted exactly when the retries so far are below the allowance
        assert granted == (before.retries < floor + earned)
        if granted:  # never past floor + max(max_ratio, ratio) * calls: retries cannot storm
            assert before.retries < floor + max(max_ratio, ratio) * before.calls
        assert after.retries == before.retries + int(granted)
        assert after.remaining >= 0
