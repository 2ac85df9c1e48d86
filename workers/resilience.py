"""Adaptive retry on the worker: score every attempt, choose each retry delay, budget retries.

:class:`AdaptiveRetryInterceptor` is a worker interceptor. It holds, for the whole worker, an
:class:`~policies.scorer.AnomalyScorer` and a :class:`~policies.budget.RetryBudget` keyed by
function target, and a background thread that refits the scorer's IsolationForest (never on the
activity path). Its activity interceptor measures every attempt of ``nexus.invoke`` (the
``python:``, ``http(s)://`` and cloud function targets): latency, outcome class (ok, error,
throttled, timeout), concurrency. When an attempt fails and the task's ``retry.policy`` is
``adaptive``, it re-raises the error with ``next_retry_delay`` chosen by
:func:`~policies.adaptive.choose_delay`, or, once the target's retry budget is spent, as the
non-retryable ``RetryBudgetExhausted`` error a workflow can ``catch`` or fall back on. With the
default ``static`` policy, errors pass through untouched (Temporal's schedule applies) and the
attempts still feed the scores and telemetry.

Under ``adaptive`` the interceptor also enforces each attempt's deadline itself, slightly before
the server's start-to-close (:meth:`AdaptiveRetryInterceptor.attempt_timeout`): an attempt that
runs past it is cancelled on the worker and fails with the retryable ``AttemptTimedOut`` error,
which is scored as a timeout and retried (or refused) like any other failure, instead of being
retried by the server on the static schedule. Heartbeat timeouts stay the server's.

Activity code: clocks, randomness and process-local state are fine here; workflows only ever
see the error types and delays recorded in history. Documented in docs/resilience.md.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import metrics, trace
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.invoke import (
    ATTEMPT_DEADLINE,
    INVOKE_ACTIVITY,
    Invoker,
    InvokeRequest,
    attempt_deadline_expired,
    scheme_of,
)
from activities.redact import strip_userinfo
from nexus_temporal.protocol import ATTEMPT_TIMED_OUT, CIRCUIT_OPEN, RETRY_BUDGET_EXHAUSTED
from policies.adaptive import Decision, RetryContext, choose_delay, static_delay, stressed
from policies.budget import RetryBudget
from policies.scorer import AnomalyScorer, Attempt, Outcome, Score
from workers.attempt_errors import classify, rebuild
from workers.refit import refit_loop
from workers.resilience_settings import (
    ADAPTIVE,
    DEADLINE_MARGIN_MAX,
    DEADLINE_MARGIN_RATIO,
    MIN_DELAY,
    THROTTLE_TYPES,
    TIMEOUT_TYPES,
    DecisionRecord,
    ResilienceSettings,
    TraceWriter,
)

__all__ = [
    "ADAPTIVE",
    "ATTEMPT_TIMED_OUT",
    "RETRY_BUDGET_EXHAUSTED",
    "THROTTLE_TYPES",
    "TIMEOUT_TYPES",
    "AdaptiveRetryInterceptor",
    "DecisionRecord",
    "ResilienceSettings",
]


@dataclass
class _Call:
    """What the interceptor knows about the attempt it is running."""

    target: str
    function: str
    policy: str
    started: float
    concurrency: int
    info: activity.Info
    extra: dict[str, Any] = field(default_factory=dict)


def _seconds(value: timedelta | None) -> float:
    return value.total_seconds() if value else 0.0


class AdaptiveRetryInterceptor(Interceptor):
    """Worker-level state and the activity interceptor of the adaptive retry policy.

    Args:
        invoker: the worker's ``nexus.invoke`` (for breaker keys and breakers); None: targets
            are keyed by URI and no breaker is consulted.
        settings: budget, window and refit settings.
        scorer, budget: replace the defaults built from ``settings`` (e.g. in tests).
        rng: the jitter's random source.
        meter: the OpenTelemetry meter (default ``nexus.resilience``).
        clock: a monotonic clock for scores and budgets; ``wall``: the epoch clock for
            schedule-to-close deadlines.
    """

    def __init__(
        self,
        invoker: Invoker | None = None,
        settings: ResilienceSettings | None = None,
        *,
        scorer: AnomalyScorer | None = None,
        budget: RetryBudget | None = None,
        rng: random.Random | None = None,
        meter: metrics.Meter | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or ResilienceSettings()
        s = self.settings
        self.invoker = invoker
        self.scorer = scorer or AnomalyScorer(window=s.window)
        self.budget = budget or RetryBudget(
            s.budget_ratio, s.budget_floor, s.budget_window, earn=s.budget_earn
        )
        self.rng = rng or random.Random(s.seed)
        self.clock = clock
        self.wall = wall
        self.decisions: deque[DecisionRecord] = deque(maxlen=10_000)
        self._inflight: dict[str, int] = {}
        self._scores: dict[str, Score] = {}
        self._lock = threading.Lock()
        self._links: dict[str, list[tuple[str, float, float]]] = {}
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.trace = TraceWriter(s.trace_file) if s.trace_file else None
        self._instrument(meter or metrics.get_meter("nexus.resilience"))
        if invoker is not None:
            invoker.stress = self.stressed

    # --- telemetry ---------------------------------------------------------------------------

    def _instrument(self, meter: metrics.Meter) -> None:
        ref = weakref.ref(self)

        def scores(_options: metrics.CallbackOptions) -> list[metrics.Observation]:
            me = ref()
            if me is None:
                return []
            with me._lock:
                items = list(me._scores.items())
            return [metrics.Observation(sc.value, {"target": t}) for t, sc in items]

        def budgets(_options: metrics.CallbackOptions) -> list[metrics.Observation]:
            me = ref()
            if me is None:
                return []
            now = me.clock()
            return [
                metrics.Observation(me.budget.snapshot(t, now).remaining, {"target": t})
                for t in me.scorer.targets()
            ]

        meter.create_observable_gauge(
            "nexus.retry.score",
            callbacks=[scores],
            description="anomaly score of a function target, 0 (healthy) to 1",
        )
        meter.create_observable_gauge(
            "nexus.retry.budget.remaining",
            callbacks=[budgets],
            description="retries a target's retry budget still allows in its window",
        )
        self._delay = meter.create_histogram(
            "nexus.retry.delay", unit="s", description="retry delay chosen by the adaptive policy"
        )
        self._decisions = meter.create_counter(
            "nexus.retry.decisions",
            description="adaptive retry decisions by reason (blip, degraded, breaker-open, "
            "retry-after, budget-exhausted, ...)",
        )

    # --- hooks -------------------------------------------------------------------------------

    def link(
        self, upstream: str, downstream: str, level: float = 0.5, duration: float = 30.0
    ) -> None:
        """When ``upstream`` fails while degraded, raise ``downstream``'s caution by ``level``
        for ``duration`` seconds (upstream-failure correlation; targets as keyed here)."""
        with self._lock:
            self._links.setdefault(upstream, []).append((downstream, level, duration))

    def score(self, target: str) -> Score:
        """The target's score now."""
        return self.scorer.score(target, self.clock())

    def stressed(self, target: str, exc: BaseException) -> bool:
        """Whether a failed call of ``target`` was stressed (for the adaptive breaker): it
        timed out or was throttled, or the target's score shows load (``Score.stress``)."""
        if isinstance(exc, asyncio.CancelledError):
            details = activity.cancellation_details() if activity.in_activity() else None
            timed_out = (details is not None and details.timed_out) or attempt_deadline_expired()
            throttled = False
        else:
            _, outcome, _ = classify(exc)
            timed_out, throttled = outcome is Outcome.TIMEOUT, outcome is Outcome.THROTTLED
        return stressed(self.score(target), timed_out=timed_out, throttled=throttled)

    # --- background refit ----------------------------------------------------------------------

    def _ensure_refit_thread(self) -> None:
        if self._thread is not None or self.settings.refit_interval <= 0:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=refit_loop,
                args=(weakref.ref(self), self._stop, self._dirty, self.settings.refit_interval),
                name="nexus-retry-refit",
                daemon=True,
            )
            self._thread.start()

    def close(self) -> None:
        """Stop the background refit thread (it also ends when the interceptor is collected)."""
        self._stop.set()
        if self.trace is not None:
            self.trace.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    # --- the attempt ---------------------------------------------------------------------------

    def target_of(self, request: InvokeRequest) -> str:
        """The target key of a request: the breaker's key (the provider's), else its URI."""
        if self.invoker is not None:
            try:
                provider = self.invoker.provider(scheme_of(request.uri))
                if provider is not None:
                    return provider.target_key(request)
            except Exception:  # a provider that cannot load fails in the activity itself
                pass
        return strip_userinfo(request.uri)  # a metric label: never a password

    def begin(self, request: InvokeRequest) -> _Call:
        info = activity.info()
        target = self.target_of(request)
        now = self.clock()
        with self._lock:
            concurrency = self._inflight.get(target, 0) + 1
            self._inflight[target] = concurrency
        if info.attempt <= 1:
            self.budget.record_call(target, now)
        self._ensure_refit_thread()
        return _Call(target, request.function, request.retry_policy, now, concurrency, info)

    def end(self, call: _Call, outcome: Outcome | None, retry_after: float | None = None) -> None:
        now = self.clock()
        with self._lock:
            self._inflight[call.target] = max(self._inflight.get(call.target, 1) - 1, 0)
        call.extra["outcome"] = outcome.value if outcome is not None else "not-scored"
        call.extra["latency"] = now - call.started
        if outcome is not None:
            self.scorer.record(
                Attempt(
                    call.target,
                    call.started,
                    now - call.started,
                    outcome,
                    call.concurrency,
                    retry_after,
                )
            )
            self._dirty.set()
        sc = self.scorer.score(call.target, now)
        with self._lock:
            self._scores[call.target] = sc
        call.extra["score"] = sc

    def attempt_timeout(self, info: activity.Info) -> float | None:
        """Seconds the worker lets an ``adaptive`` attempt run (from now): the start-to-close
        timeout less a margin of ``min(10%, 1 s)``, and never past the schedule-to-close
        deadline less the same margin. None: no start-to-close, nothing to enforce."""
        stc = _seconds(info.start_to_close_timeout)
        if stc <= 0:
            return None
        margin = min(DEADLINE_MARGIN_RATIO * stc, DEADLINE_MARGIN_MAX)
        limit = stc - margin
        if info.schedule_to_close_timeout and info.scheduled_time:
            deadline = info.scheduled_time + info.schedule_to_close_timeout
            remaining = (deadline - datetime.fromtimestamp(self.wall(), UTC)).total_seconds()
            if remaining - margin > 0:
                limit = min(limit, remaining - margin)
            # else: the server's schedule-to-close fires first and ends the retries anyway
        return limit if limit > 0 else None

    def retry_context(self, call: _Call, retry_after: float | None) -> RetryContext:
        info = call.info
        policy = info.retry_policy
        remaining: float | None = None
        if info.schedule_to_close_timeout and info.scheduled_time:
            deadline = info.scheduled_time + info.schedule_to_close_timeout
            remaining = (deadline - datetime.fromtimestamp(self.wall(), UTC)).total_seconds()
        breaker_remaining: float | None = None
        if self.invoker is not None:
            breaker = self.invoker.breakers.find(call.target)
            if breaker is not None:
                breaker_remaining = breaker.retry_in() or None
        return RetryContext(
            attempt=info.attempt,
            max_attempts=policy.maximum_attempts if policy else None,
            initial=_seconds(policy.initial_interval) if policy else 1.0,
            maximum=_seconds(policy.maximum_interval) if policy else 0.0,
            coefficient=policy.backoff_coefficient if policy else 2.0,
            remaining=remaining,
            breaker_remaining=breaker_remaining,
            retry_after=retry_after,
        )

    def decide(self, call: _Call, error_type: str, retry_after: float | None) -> Decision:
        """The adaptive decision for a failed, retryable attempt (budget included)."""
        now = self.clock()
        sc: Score = call.extra.get("score") or self.scorer.score(call.target, now)
        ctx = self.retry_context(call, retry_after)
        if self.settings.delays == "static":  # ablation: budget and breaker, static delays
            decision = static_delay(ctx)
        else:
            decision = choose_delay(sc, ctx, self.rng)
        if decision.delay is not None and not self.budget.try_spend(call.target, now):
            decision = Decision(None, "budget-exhausted")
        call.extra["static"] = static_delay(ctx).delay
        if sc.degraded:
            with self._lock:
                links = list(self._links.get(call.target, ()))
            for downstream, level, duration in links:
                self.scorer.caution(downstream, level, now + duration)
        self._note(call, error_type, decision, sc, now)
        return decision

    def decide_refused(self, call: _Call, retry_in: float | None) -> Decision:
        """The delay after a ``CircuitOpen`` refusal: the breaker's remaining open time plus
        :func:`choose_delay`'s jitter (rule 2), so the calls waiting on the breaker do not all
        arrive at the instant it half-opens. No budget is spent: the target was not called."""
        now = self.clock()
        sc: Score = call.extra.get("score") or self.scorer.score(call.target, now)
        ctx = replace(self.retry_context(call, None), breaker_remaining=retry_in or 0.001)
        if self.settings.delays == "static":
            decision = static_delay(replace(ctx, retry_after=ctx.breaker_remaining))
        else:
            decision = choose_delay(sc, ctx, self.rng)
        self._note(call, CIRCUIT_OPEN, decision, sc, now)
        return decision

    def trace_attempt(self, call: _Call) -> None:
        """Append the attempt's record to the trace file (``ResilienceSettings.trace_file``)."""
        if self.trace is None:
            return
        now = self.clock()
        sc: Score | None = call.extra.get("score")
        snap = self.budget.snapshot(call.target, now)
        decision: Decision | None = call.extra.get("decision")
        breaker = self.invoker.breakers.find(call.target) if self.invoker is not None else None
        self.trace.write(
            {
                "at": round(now, 4),
                "wall": round(self.wall(), 4),
                "target": call.target,
                "function": call.function,
                "workflow_id": call.info.workflow_id,
                "attempt": call.info.attempt,
                "policy": call.policy,
                "outcome": call.extra.get("outcome"),
                "error_type": call.extra.get("error_type"),
                "latency": round(call.extra.get("latency", 0.0), 4),
                "concurrency": call.concurrency,
                "score": round(sc.value, 4) if sc is not None else None,
                "stress": round(sc.stress, 4) if sc is not None else None,
                "degraded": sc.degraded if sc is not None else None,
                "forest": sc.forest if sc is not None else None,
                "reason": decision.reason if decision is not None else None,
                "delay": decision.delay if decision is not None else None,
                "static_delay": call.extra.get("static"),
                "budget": {
                    "calls": snap.calls,
                    "retries": snap.retries,
                    "successes": snap.successes,
                    "allowed": round(snap.allowed, 3),
                },
                "breaker": breaker.state.value if breaker is not None else None,
            }
        )

    def _note(
        self, call: _Call, error_type: str, decision: Decision, sc: Score, now: float
    ) -> None:
        reason = decision.reason.split(":", 1)[0]
        attributes = {"target": call.target, "reason": reason}
        self._decisions.add(1, attributes)
        if decision.delay is not None:
            self._delay.record(decision.delay, attributes)
        self.decisions.append(
            DecisionRecord(
                call.target,
                call.function,
                call.info.workflow_id or "",
                call.info.attempt,
                error_type,
                call.policy,
                decision.delay,
                decision.reason,
                sc.value,
                sc.degraded,
                now,
                decision.cap,
                call.extra.get("static"),
            )
        )
        call.extra["decision"] = decision

    def annotate(self, call: _Call) -> None:
        """Set the attempt's score, decision, budget and breaker on the current span (and
        write its trace record)."""
        self.trace_attempt(call)
        span = trace.get_current_span()
        if not span.is_recording():
            return
        sc: Score | None = call.extra.get("score")
        snap = self.budget.snapshot(call.target, self.clock())
        attributes: dict[str, Any] = {
            "nexus.retry.target": call.target,
            "nexus.retry.policy": call.policy,
            "nexus.retry.budget.remaining": snap.remaining,
        }
        if sc is not None:
            attributes["nexus.retry.score"] = sc.value
            attributes["nexus.retry.degraded"] = sc.degraded
        decision: Decision | None = call.extra.get("decision")
        if decision is not None:
            attributes["nexus.retry.reason"] = decision.reason
            if decision.delay is not None:
                attributes["nexus.retry.delay"] = decision.delay
        if self.invoker is not None:
            breaker = self.invoker.breakers.find(call.target)
            if breaker is not None:
                attributes["nexus.breaker.state"] = breaker.state.value
        span.set_attributes(attributes)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _AdaptiveInbound(next, self)


class _AttemptExpired(Exception):
    """The worker-side deadline of an ``adaptive`` attempt fired."""


def _timed_out(call: _Call, limit: float) -> ApplicationError:
    stc = _seconds(call.info.start_to_close_timeout)
    return ApplicationError(
        f"function '{call.function}': attempt {call.info.attempt} timed out on the worker after "
        f"{limit:.3g}s (start_to_close {stc:g}s); its work may still complete",
        {"function": call.function, "attempt": call.info.attempt, "timeout": round(limit, 3)},
        type=ATTEMPT_TIMED_OUT,
    )


class _AdaptiveInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, root: AdaptiveRetryInterceptor) -> None:
        super().__init__(next)
        self.root = root

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        request = input.args[0] if input.args else None
        if activity.info().activity_type != INVOKE_ACTIVITY or not isinstance(
            request, InvokeRequest
        ):
            return await super().execute_activity(input)
        root = self.root
        call = root.begin(request)
        limit = root.attempt_timeout(call.info) if call.policy == ADAPTIVE else None
        try:
            result = await self._run(input, limit)
        except _AttemptExpired:
            assert limit is not None
            error = self._failed(call, _timed_out(call, limit))
            raise error from None
        except asyncio.CancelledError:
            details = activity.cancellation_details()
            timed_out = details is not None and details.timed_out
            # A timed-out attempt's retry is the server's: only its score is ours.
            root.end(call, Outcome.TIMEOUT if timed_out else None)
            root.annotate(call)
            raise
        except Exception as exc:
            error = self._failed(call, exc)
            if error is exc:
                raise
            raise error from exc
        root.end(call, Outcome.OK)
        if call.policy == ADAPTIVE and call.info.attempt > 1:
            # A retry the budget granted paid off: it earns budget back (retry yield).
            root.budget.record_retry_success(call.target, root.clock())
        root.annotate(call)
        return result

    async def _run(self, input: ExecuteActivityInput, limit: float | None) -> Any:
        """The attempt, cut at ``limit`` seconds on the worker (None: the server's deadline)."""
        if limit is None:
            return await super().execute_activity(input)
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                token = ATTEMPT_DEADLINE.set(deadline)
                try:
                    return await super().execute_activity(input)
                finally:
                    ATTEMPT_DEADLINE.reset(token)
        except TimeoutError:
            if deadline.expired():
                raise _AttemptExpired from None
            raise  # the function's own TimeoutError

    def _failed(self, call: _Call, exc: Exception) -> BaseException:
        root = self.root
        error_type, outcome, retry_after = classify(exc)
        call.extra["error_type"] = error_type
        policy = call.info.retry_policy
        non_retryable = (isinstance(exc, ApplicationError) and exc.non_retryable) or (
            policy is not None and error_type in (policy.non_retryable_error_types or ())
        )
        if error_type == CIRCUIT_OPEN or non_retryable:
            # Refused without a call, or the request was wrong: the target's health is unknown.
            root.end(call, None)
            last = policy is not None and 0 < policy.maximum_attempts <= call.info.attempt
            if (
                error_type == CIRCUIT_OPEN
                and not non_retryable
                and call.policy == ADAPTIVE
                and not last
            ):
                # The breaker's wait with rule 2's jitter (the server would retry every
                # waiting call at the same instant), within the deadline; no budget spent.
                decision = root.decide_refused(call, retry_after)
                root.annotate(call)
                if decision.delay is None:
                    return rebuild(exc, error_type, non_retryable=True)
                return rebuild(
                    exc,
                    error_type,
                    next_retry_delay=timedelta(seconds=max(decision.delay, MIN_DELAY)),
                )
            root.annotate(call)
            return exc
        root.end(call, outcome, retry_after)
        if call.policy != ADAPTIVE:
            root.annotate(call)
            return exc
        if policy is not None and 0 < policy.maximum_attempts <= call.info.attempt:
            # The last attempt: Temporal ends the retries; no budget is spent on it.
            root.annotate(call)
            return exc
        decision = root.decide(call, error_type, retry_after)
        root.annotate(call)
        if decision.reason == "budget-exhausted":
            snap = root.budget.snapshot(call.target, root.clock())
            message = getattr(exc, "message", None) or str(exc)
            return ApplicationError(
                f"function '{call.function}': retry budget of '{call.target}' exhausted "
                f"({snap.retries} retries in the last {root.budget.window:g}s, "
                f"{snap.allowed:.1f} allowed for {snap.calls} calls); last error "
                f"{error_type}: {message}",
                {
                    "function": call.function,
                    "target": call.target,
                    "attempt": call.info.attempt,
                    "error": {"type": error_type, "message": message},
                    "budget": {
                        "calls": snap.calls,
                        "retries": snap.retries,
                        "allowed": round(snap.allowed, 3),
                    },
                },
                type=RETRY_BUDGET_EXHAUSTED,
                non_retryable=True,
            )
        if decision.delay is None:
            # The next attempt would not fit the schedule-to-close time: fail now, same type.
            return rebuild(exc, error_type, non_retryable=True)
        return rebuild(
            exc, error_type, next_retry_delay=timedelta(seconds=max(decision.delay, MIN_DELAY))
        )
