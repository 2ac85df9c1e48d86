"""The adaptive retry delay: how long to wait before the next attempt, from a target's score.

Pure and clock-free: :func:`choose_delay` depends only on its arguments and the injected
``random.Random``, so a simulator replays it exactly. :func:`static_delay` is Temporal's own
exponential schedule, for comparing like with like.

Rules of :func:`choose_delay`, in order (``attempt`` is the attempt that just failed, from 1):

1. attempts exhausted (``max_attempts`` set and ``attempt >= max_attempts``): no retry;
2. the target's circuit breaker is open: wait its remaining open time plus a jitter of up to
   one ``initial`` interval (at most ``BREAKER_JITTER`` of the wait), so the waiting calls do
   not all arrive at the instant it half-opens;
3. the server sent Retry-After: wait that long (the larger of 2 and 3 when both apply);
4. the target looks degraded: full-jitter backoff, ``uniform(0, cap)`` with
   ``cap = min(maximum, initial * coefficient ** (attempt - 1) * (1 + DEGRADED_STRETCH * value))``,
   and never more than half the remaining schedule-to-close time: the backoff is there to let
   the target recover, not to spend the time the retry it waits for needs to run (without this
   bound a stretched backoff ran some calls out of their deadline on a flaky-but-healthy target
   that static retries complete);
5. otherwise an isolated blip: a quick retry, ``uniform(0.5, 1) * min(initial, maximum)``;

and in every case, a delay that would reach the remaining schedule-to-close time means no retry
(the next attempt would have no time left to run).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from policies.scorer import Score

__all__ = [
    "BREAKER_JITTER",
    "DEGRADED_STRETCH",
    "STRESS_THRESHOLD",
    "Decision",
    "RetryContext",
    "choose_delay",
    "static_delay",
    "stressed",
]

#: The breaker wait is drawn from ``[remaining, remaining + min(BREAKER_JITTER * remaining,
#: initial)]``: spread over one initial interval, not over the whole open time.
BREAKER_JITTER = 0.5
#: ``Score.stress`` at or above which a call counts as stressed (slow) for the breaker.
STRESS_THRESHOLD = 0.5

#: How much a degraded score stretches the backoff cap: ``1 + DEGRADED_STRETCH * value`` times.
DEGRADED_STRETCH = 4.0
#: Temporal's maximum interval when the policy sets none: 100 times the initial interval.
DEFAULT_MAXIMUM_FACTOR = 100.0


@dataclass(frozen=True)
class RetryContext:
    """What the retry decision must respect: the attempt that failed and the retry settings.

    ``attempt`` is 1-based (the attempt that just failed); ``max_attempts`` None or 0 means
    unlimited; ``initial``, ``maximum``, ``coefficient`` are the YAML ``retry:`` settings in
    seconds (``maximum`` 0 means Temporal's default, 100 x ``initial``); ``remaining`` is the
    time left before schedule-to-close (None: unbounded); ``breaker_remaining`` the seconds the
    target's circuit breaker stays open (None or 0: closed); ``retry_after`` a server's
    Retry-After in seconds.
    """

    attempt: int
    max_attempts: int | None
    initial: float
    maximum: float
    coefficient: float
    remaining: float | None = None
    breaker_remaining: float | None = None
    retry_after: float | None = None

    @property
    def ceiling(self) -> float:
        """The largest backoff the YAML settings allow."""
        return self.maximum if self.maximum > 0 else DEFAULT_MAXIMUM_FACTOR * self.initial

    @property
    def exhausted(self) -> bool:
        """True when the attempt that failed was the last one allowed."""
        return bool(self.max_attempts) and self.attempt >= (self.max_attempts or 0)

    def exponential(self) -> float:
        """Temporal's un-jittered delay after ``attempt``: ``initial * coefficient**(n-1)``."""
        exponent = max(self.attempt - 1, 0)
        try:
            raw = self.initial * self.coefficient**exponent
        except OverflowError:
            raw = float("inf")
        return min(raw, self.ceiling)


@dataclass(frozen=True)
class Decision:
    """The delay before the next attempt (None: do not retry) and why; ``cap`` is the upper
    bound the delay was drawn under (the jitter envelope; None when no retry)."""

    delay: float | None
    reason: str
    cap: float | None = None


def _fit(delay: float, reason: str, ctx: RetryContext, cap: float | None = None) -> Decision:
    delay = max(delay, 0.0)
    if ctx.remaining is not None and delay >= ctx.remaining:
        return Decision(None, f"{reason}: no time left")
    return Decision(delay, reason, delay if cap is None else cap)


def choose_delay(score: Score, ctx: RetryContext, rng: random.Random) -> Decision:
    """Choose the delay before the next attempt from the target's score (see module doc)."""
    if ctx.exhausted:
        return Decision(None, "attempts exhausted")
    if ctx.remaining is not None and ctx.remaining <= 0:
        return Decision(None, "no time left")
    waits = [w for w in (ctx.breaker_remaining, ctx.retry_after) if w is not None and w > 0]
    if waits:
        wait = max(waits)
        if not (ctx.breaker_remaining and ctx.breaker_remaining >= wait):
            return _fit(wait, "retry-after", ctx)
        # Spread the wake-ups after the breaker half-opens; within the deadline when it fits.
        high = wait + min(BREAKER_JITTER * wait, min(ctx.initial, ctx.ceiling))
        if ctx.remaining is not None and wait < ctx.remaining:
            high = min(high, wait + (ctx.remaining - wait) / 2.0)
        return _fit(rng.uniform(wait, max(high, wait)), "breaker-open", ctx, high)
    if score.degraded:
        cap = min(ctx.exponential() * (1.0 + DEGRADED_STRETCH * score.value), ctx.ceiling)
        if ctx.remaining is not None:  # leave the retry time to run (module doc, rule 4)
            cap = min(cap, ctx.remaining / 2.0)
        return _fit(rng.uniform(0.0, cap), "degraded", ctx, cap)
    quick = min(ctx.initial, ctx.ceiling)
    return _fit(rng.uniform(0.5, 1.0) * quick, "blip", ctx, quick)


def static_delay(ctx: RetryContext) -> Decision:
    """Temporal's default schedule: ``initial * coefficient**(attempt-1)`` capped at maximum.

    A server's Retry-After replaces it, as the HTTP provider's ``next_retry_delay`` does;
    the schedule-to-close deadline and ``max_attempts`` end the retries as Temporal does.
    """
    if ctx.exhausted:
        return Decision(None, "attempts exhausted")
    if ctx.retry_after is not None and ctx.retry_after > 0:
        return _fit(ctx.retry_after, "retry-after", ctx)
    return _fit(ctx.exponential(), "static", ctx)


def stressed(score: Score, timed_out: bool = False, throttled: bool = False) -> bool:
    """Whether a call counts as slow for the adaptive breaker: it timed out or was throttled,
    or the target's load signals (``Score.stress``: latency, timeouts, throttles; not its
    error rate) say it is under stress."""
    return timed_out or throttled or score.stress >= STRESS_THRESHOLD
