"""The retry budget: retries at most floor + ratio * calls in a sliding window, per target."""

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


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.integers(0, 5),
    st.lists(st.tuples(st.booleans(), st.floats(0.0, 2.0)), max_size=200),
)
def test_retries_never_exceed_the_allowance(
    ratio: float, floor: int, events: list[tuple[bool, float]]
) -> None:
    budget = RetryBudget(ratio=ratio, floor=floor, window=10.0)
    now = 0.0
    for is_call, step in events:
        now += step
        if is_call:
            budget.record_call("t", now)
            continue
        before = budget.snapshot("t", now)
        granted = budget.try_spend("t", now)
        after = budget.snapshot("t", now)
        # granted exactly when the retries so far are below floor + ratio * calls
        assert granted == (before.retries < floor + ratio * before.calls)
        assert after.retries == before.retries + int(granted)
        assert after.remaining >= 0
