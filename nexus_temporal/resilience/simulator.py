"""A discrete-event, virtual-time simulator of saga workflows calling faulty functions.

Virtual time (a heap of events, no sleeping), one process per workflow (a generator that yields
``_Sleep`` and ``_Call`` commands), and functions modelled as servers with a capacity, a FIFO
queue, lognormal service times and the scenario's faults. Retries are decided by the *same*
policy code the worker uses: :func:`policies.adaptive.static_delay` (Temporal's schedule) or
:func:`policies.adaptive.choose_delay` over :class:`policies.scorer.AnomalyScorer` with a
:class:`policies.budget.RetryBudget`, and :class:`activities.breaker.CircuitBreaker` on the
virtual clock. A client that times out gives up on its attempt, but the server still does the
work (and its side effect): this is what lets an overload turn into a retry storm.

Side effects go to a per-workflow ledger with idempotency keys (one effect per step and
provider, however often it is retried), and compensation undoes what a step did, as the DSL
specifies (§11): a completed step, and a step that failed with an uncertain outcome; a primary
provider that failed is undone before the fallback is called.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any

from activities.breaker import BreakerSettings, CircuitBreaker, CircuitOpenError
from activities.breaker import Outcome as BreakerOutcome
from nexus_temporal.resilience.metrics import RunMetrics, WorkflowRecord, run_metrics
from nexus_temporal.resilience.scenarios import (
    FAULTED,
    Fault,
    FunctionSpec,
    PolicySpec,
    Scenario,
    Step,
    Workload,
)
from policies.adaptive import Decision, RetryContext, choose_delay, static_delay, stressed
from policies.budget import RetryBudget
from policies.scorer import AnomalyScorer, Attempt, Outcome

__all__ = ["CallRecord", "SimResult", "Simulator", "simulate"]

#: Time a function takes to refuse a call (503, 429, fast 500).
REFUSE_LATENCY = 0.01


@dataclass(frozen=True)
class _Sleep:
    delay: float


@dataclass(frozen=True)
class _Call:
    function: str
    #: (workflow, step, "do" | "undo", provider): the side effect a completed execution has.
    effect: tuple[_Workflow, str, str, str] | None
    timeout: float


@dataclass(frozen=True)
class _Reply:
    outcome: Outcome
    latency: float
    retry_after: float | None = None


@dataclass(frozen=True)
class CallRecord:
    """One logical call (all its attempts) for failure-correlation insights."""

    execution: str
    node: str
    time: float
    failed: bool
    attempts: int


@dataclass
class _Workflow:
    id: str
    start: float
    end: float = 0.0
    ok: bool = False
    keys: set[tuple[str, str, str]] = field(default_factory=set)
    net: dict[tuple[str, str], int] = field(default_factory=dict)

    def apply(self, step: str, provider: str, kind: str) -> None:
        """An effect reached the function's state (idempotent per key)."""
        key = (step, provider, kind)
        if key in self.keys:
            return
        self.keys.add(key)
        if kind == "undo":
            # An undo that arrives first cancels its key: a late execution is refused.
            self.keys.add((step, provider, "do"))
        if kind == "do":
            self.net[(step, provider)] = self.net.get((step, provider), 0) + 1
        elif self.net.get((step, provider), 0) > 0:
            self.net[(step, provider)] -= 1

    def balanced(self, steps: tuple[Step, ...]) -> bool:
        if not self.ok:
            return all(v == 0 for v in self.net.values())
        effects = [s.name for s in steps if s.compensate]
        per_step = {name: 0 for name in effects}
        for (step, _), v in self.net.items():
            per_step[step] = per_step.get(step, 0) + v
        return all(per_step[name] == 1 for name in effects)


@dataclass
class _Request:
    call: _Call
    submitted: float
    reply: Callable[[_Reply], None]
    error: bool = False
    partial: bool = False
    factor: float = 1.0


class _Server:
    """One function: capacity slots, a FIFO queue, the scenario's faults."""

    def __init__(self, spec: FunctionSpec, sim: Simulator, rng: random.Random) -> None:
        self.spec = spec
        self.sim = sim
        self.rng = rng
        self.busy = 0
        self.queue: deque[_Request] = deque()
        self.tokens = 0.0
        self.token_time = 0.0
        self.invocations = 0

    def fault(self) -> Fault | None:
        for f in self.sim.scenario.faults:
            if f.target == self.spec.name and f.active(self.sim.now):
                return f
        return None

    def submit(self, req: _Request) -> None:
        self.invocations += 1
        now = self.sim.now
        fault = self.fault()
        if fault is not None:
            if fault.down:
                self._refuse(req, Outcome.ERROR)
                return
            if fault.throttle_rps is not None:
                rate = fault.throttle_rps
                if self.token_time < fault.start:
                    self.tokens, self.token_time = rate, now
                self.tokens = min(rate, self.tokens + (now - self.token_time) * rate)
                self.token_time = now
                if self.tokens < 1.0:
                    self._refuse(req, Outcome.THROTTLED, fault.retry_after)
                    return
                self.tokens -= 1.0
            roll = self.rng.random()
            if roll < fault.error_rate:
                self._refuse(req, Outcome.ERROR)
                return
            req.partial = roll < fault.error_rate + fault.partial_rate
            req.factor = fault.latency_factor
        if self.spec.load_errors and self.spec.capacity:
            u = (self.busy + len(self.queue) + 1) / self.spec.capacity
            req.error = self.rng.random() < min(max((u - 2.0) / 4.0, 0.0), 0.9)
        if not self.spec.capacity or self.busy < self.spec.capacity:
            self._start(req)
        else:
            self.queue.append(req)

    def _refuse(self, req: _Request, outcome: Outcome, retry_after: float | None = None) -> None:
        self.sim.schedule(REFUSE_LATENCY, lambda: req.reply(_Reply(outcome, 0.0, retry_after)))

    def _start(self, req: _Request) -> None:
        self.busy += 1
        spec = self.spec
        service = self.rng.lognormvariate(math.log(spec.latency), spec.sigma) * req.factor
        self.sim.schedule(service, lambda: self._finish(req))

    def _finish(self, req: _Request) -> None:
        self.busy -= 1
        if self.queue:
            self._start(self.queue.popleft())
        effect = req.call.effect
        if effect is not None and not req.error:
            wf, step, kind, provider = effect
            wf.apply(step, provider, kind)
        failed = req.error or req.partial
        req.reply(_Reply(Outcome.ERROR if failed else Outcome.OK, 0.0))


Process = Generator[Any, Any, Any]


@dataclass
class SimResult:
    scenario: str
    policy: str
    seed: int
    metrics: RunMetrics
    invocations: dict[str, int]
    logical_calls: dict[str, int]
    decisions: dict[str, int]
    trace: list[CallRecord]
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "policy": self.policy,
            "seed": self.seed,
            "metrics": self.metrics.to_json(),
            "invocations": self.invocations,
            "logical_calls": self.logical_calls,
            "decisions": self.decisions,
        }


class Simulator:
    """One run: a scenario, a policy and a seed (the same three give the same result).

    Args:
        forest_every: virtual seconds between ``AnomalyScorer.refit`` calls (the
            IsolationForest); None never fits it (its signal stays absent).
        trace: keep one :class:`CallRecord` per logical call (for ``nexus insights``).
        budget_mode: ``"drop"``: a retry that finds the budget spent fails the call at once
            (as the worker's ``RetryBudgetExhausted``, and Finagle/gRPC budgets); ``"wait"``:
            it waits for the budget (like the AWS SDKs' adaptive mode), within the deadline.
        breaker, budget: the circuit breaker settings and retry budget (their defaults).
        compensate_uncertain: the DSL's uncertain-outcome semantics (docs/dsl.md §11): a step
            that failed for good with an uncertain outcome (every failure here: timeouts,
            retryable errors, budget and breaker refusals) is undone too, and a primary that
            failed is undone before its fallback is called. False: the former semantics (only
            completed steps are undone; the fallback is called at once), for comparison.
        caution: when an attempt of a step fails, raise the caution of the later steps'
            functions (``AnomalyScorer.caution``) by this level for ``caution_for`` seconds
            (adaptive policies; None: the policy's ``caution``; 0 disables it).
    """

    def __init__(
        self,
        scenario: Scenario,
        policy: PolicySpec,
        seed: int,
        workload: Workload | None = None,
        *,
        forest_every: float | None = 30.0,
        trace: bool = False,
        caution: float | None = None,
        caution_for: float = 10.0,
        budget_mode: str = "drop",
        breaker: BreakerSettings | None = None,
        budget: RetryBudget | None = None,
        compensate_uncertain: bool = True,
    ) -> None:
        self.scenario = scenario
        self.policy = policy
        self.seed = seed
        self.workload = workload or Workload()
        self.forest_every = forest_every
        self.tracing = trace
        self.caution_level = policy.caution if caution is None else caution
        self.caution_for = caution_for
        self.budget_mode = budget_mode
        self.compensate_uncertain = compensate_uncertain
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        master = random.Random(f"{scenario.name}/{seed}")
        self._arrivals = random.Random(master.getrandbits(64))
        self._policy_rng = random.Random(master.getrandbits(64))
        self.servers = {
            f.name: _Server(f, self, random.Random(master.getrandbits(64)))
            for f in self.workload.functions
        }
        if not policy.forest:
            self.forest_every = None
        self.scorer = AnomalyScorer(seed=seed) if policy.adaptive else None
        self.budget = (budget or RetryBudget()) if policy.adaptive else None
        # The adaptive policies' breakers use the adaptive defaults, as the worker's do.
        self.breaker_settings = breaker or BreakerSettings.from_mapping(
            None, adaptive=policy.adaptive
        )
        self.breakers: dict[str, CircuitBreaker] = {}
        self.workflows: list[_Workflow] = []
        self.invocations: dict[str, int] = {}
        self.logical: dict[str, int] = {}
        self.decisions: dict[str, int] = {}
        self.trace: list[CallRecord] = []
        self.inflight: dict[str, int] = {}
        self._active = 0

    # --- the event loop -------------------------------------------------------------------

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._events, (self.now + max(delay, 0.0), next(self._seq), fn))

    def spawn(self, proc: Process) -> None:
        self._resume(proc, None)

    def _resume(self, proc: Process, value: Any) -> None:
        try:
            cmd = proc.send(value)
        except StopIteration:
            return
        if isinstance(cmd, _Sleep):
            self.schedule(cmd.delay, lambda: self._resume(proc, None))
        else:
            self._call(cmd, lambda reply: self._resume(proc, reply))

    def _call(self, call: _Call, resume: Callable[[_Reply], None]) -> None:
        started = self.now
        done = [False]

        def reply(r: _Reply) -> None:
            if not done[0]:
                done[0] = True
                resume(_Reply(r.outcome, self.now - started, r.retry_after))

        def timeout() -> None:
            if not done[0]:
                done[0] = True
                resume(_Reply(Outcome.TIMEOUT, self.now - started))

        self.schedule(call.timeout, timeout)
        self.servers[call.function].submit(_Request(call, started, reply))

    def run(self) -> SimResult:
        quiet = logging.getLogger("nexus.breaker")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # thousands of virtual transitions are not news
        try:
            return self._run()
        finally:
            quiet.setLevel(level)

    def _run(self) -> SimResult:
        wall = time.perf_counter()
        self.spawn(self._arrival_process())
        if self.scorer is not None and self.forest_every:
            self.spawn(self._refit_process())
        while self._events:
            t, _, fn = heapq.heappop(self._events)
            self.now = t
            fn()
        wl = self.workload
        records = [
            WorkflowRecord(w.start, w.end, w.ok, w.balanced(wl.steps)) for w in self.workflows
        ]
        metrics = run_metrics(
            records,
            invocations=self.invocations.get(FAULTED, 0),
            logical_calls=self.logical.get(FAULTED, 0),
            onset=self.scenario.onset,
            horizon=wl.horizon,
        )
        return SimResult(
            self.scenario.name,
            self.policy.name,
            self.seed,
            metrics,
            dict(self.invocations),
            dict(self.logical),
            dict(sorted(self.decisions.items())),
            self.trace,
            time.perf_counter() - wall,
        )

    # --- processes ------------------------------------------------------------------------

    def _arrival_process(self) -> Process:
        wl = self.workload
        n = 0
        while True:
            rate = wl.arrival_rate * self.scenario.rate_factor(self.now)
            yield _Sleep(self._arrivals.expovariate(rate))
            if self.now >= wl.horizon:
                return
            wf = _Workflow(f"wf-{n}", self.now)
            n += 1
            self.workflows.append(wf)
            self._active += 1
            self.spawn(self._workflow(wf))

    def _refit_process(self) -> Process:
        assert self.scorer is not None and self.forest_every
        while self.now < self.workload.horizon or self._active:
            yield _Sleep(self.forest_every)
            self.scorer.refit(self.now)

    def _workflow(self, wf: _Workflow) -> Process:
        done: list[tuple[Step, str]] = []
        for step in self.workload.steps:
            served = yield from self._step(wf, step)
            if served is None and self.compensate_uncertain and step.compensate:
                # DSL §11: a step whose outcome is uncertain registers its compensation. A
                # primary that fell back was undone already (see _step).
                if step.fallback and self.policy.fallback:
                    done.append((step, step.fallback))
                else:
                    done.append((step, step.function))
            if served is None:
                for prior, provider in reversed(done):
                    yield from self._compensate(wf, prior, provider)
                break
            done.append((step, served))
        else:
            wf.ok = True
        wf.end = self.now
        self._active -= 1

    def _step(self, wf: _Workflow, step: Step) -> Process:
        """Run a step; the function that served it, or None when it failed for good."""
        fallback = step.fallback if self.policy.fallback else None
        self.logical[step.name] = self.logical.get(step.name, 0) + 1
        ok = yield from self._logical(wf, step, step.function, to_fallback=fallback is not None)
        if ok:
            return step.function
        if fallback is not None:
            if self.compensate_uncertain and step.compensate:
                # DSL: the uncertain primary is undone before another provider does the work.
                yield from self._compensate(wf, step, step.function)
            ok = yield from self._logical(wf, step, fallback, to_fallback=False)
            if ok:
                return fallback
        return None

    def _breaker(self, target: str) -> CircuitBreaker:
        breaker = self.breakers.get(target)
        if breaker is None:
            breaker = CircuitBreaker(target, self.breaker_settings, clock=lambda: self.now)
            self.breakers[target] = breaker
        return breaker

    def _caution_downstream(self, step: Step) -> None:
        """An upstream failure makes the later steps' functions look riskier for a while."""
        if not self.caution_level or self.scorer is None:
            return
        steps = self.workload.steps
        later = steps[steps.index(step) + 1 :] if step in steps else ()
        for s in later:
            for fn in (s.function, s.fallback):
                if fn:
                    self.scorer.caution(fn, self.caution_level, self.now + self.caution_for)

    def _count(self, reason: str) -> None:
        self.decisions[reason] = self.decisions.get(reason, 0) + 1

    def _logical(self, wf: _Workflow, step: Step, function: str, *, to_fallback: bool) -> Process:
        """All attempts of one call of ``function``; True when one succeeded."""
        wl, policy = self.workload, self.policy
        spec = wl.function(function)
        started = self.now
        deadline = started + wl.schedule_to_close
        if self.budget is not None:
            self.budget.record_call(function, self.now)
        attempt = 1
        failures = 0
        while True:
            retry_after: float | None = None
            breaker_remaining: float | None = None
            reached = True
            permit = None
            if policy.breaker:
                breaker = self._breaker(function)
                try:
                    permit = breaker.acquire()
                except CircuitOpenError as exc:
                    reached = False
                    breaker_remaining = max(exc.retry_in, 0.001)
                    if to_fallback:  # CircuitOpen is not retried when a fallback follows
                        self._count("breaker-open: fallback")
                        self._record(wf, function, failed=True, attempts=attempt)
                        return False
            if reached:
                self.invocations[step.name] = self.invocations.get(step.name, 0) + 1
                timeout = min(spec.timeout, max(deadline - self.now, 0.001))
                self.inflight[function] = self.inflight.get(function, 0) + 1
                call_started = self.now
                effect = (wf, step.name, "do", function) if step.compensate else None
                reply = yield _Call(function, effect, timeout)
                self.inflight[function] -= 1
                if permit is not None:
                    ok = reply.outcome is Outcome.OK
                    slow: bool | None = None
                    if self.scorer is not None and not ok:
                        # As the worker: judged on the score before this attempt is recorded.
                        slow = stressed(
                            self.scorer.score(function, self.now),
                            timed_out=reply.outcome is Outcome.TIMEOUT,
                            throttled=reply.outcome is Outcome.THROTTLED,
                        )
                    self._breaker(function).record(
                        permit, BreakerOutcome.SUCCESS if ok else BreakerOutcome.FAILURE, slow=slow
                    )
                if self.scorer is not None:
                    self.scorer.record(
                        Attempt(
                            function,
                            call_started,
                            reply.latency,
                            reply.outcome,
                            concurrency=self.inflight[function] + 1,
                            retry_after=reply.retry_after,
                        )
                    )
                if reply.outcome is Outcome.OK:
                    if self.budget is not None and attempt > 1:
                        self.budget.record_retry_success(function, self.now)
                    self._record(wf, function, failed=failures > 0, attempts=attempt)
                    return True
                retry_after = reply.retry_after
                self._caution_downstream(step)
            failures += 1
            if not policy.retry:
                self._record(wf, function, failed=True, attempts=attempt)
                return False
            decision = self._decide(function, attempt, deadline, breaker_remaining, retry_after)
            self._count(decision.reason)
            if decision.delay is None:
                self._record(wf, function, failed=True, attempts=attempt)
                return False
            yield _Sleep(decision.delay)
            if self.budget is not None and reached:
                # A breaker refusal did not call the target: its retry spends no budget (as
                # the worker's interceptor; it used to here, which failed waiting calls early).
                # "drop": the worker's RetryBudgetExhausted (non-retryable); "wait": retry
                # when the budget allows again, within the call's deadline.
                while not self.budget.try_spend(function, self.now):
                    if self.budget_mode == "drop" or self.now >= deadline:
                        self._count("budget exhausted")
                        self._record(wf, function, failed=True, attempts=attempt)
                        return False
                    self._count("budget wait")
                    wait = self.budget.window / 4 * self._policy_rng.uniform(0.5, 1.5)
                    yield _Sleep(min(wait, max(deadline - self.now, 0.0)))
            attempt += 1

    def _decide(
        self,
        function: str,
        attempt: int,
        deadline: float,
        breaker_remaining: float | None,
        retry_after: float | None,
    ) -> Decision:
        wl = self.workload
        ctx = RetryContext(
            attempt,
            wl.max_attempts,
            wl.initial,
            wl.maximum,
            wl.coefficient,
            remaining=deadline - self.now,
            breaker_remaining=breaker_remaining,
            retry_after=retry_after,
        )
        if self.scorer is None or self.budget is None or not self.policy.scored:
            # Temporal's schedule; an open breaker's CircuitOpen carries next_retry_delay.
            return static_delay(replace(ctx, retry_after=breaker_remaining or retry_after))
        return choose_delay(self.scorer.score(function, self.now), ctx, self._policy_rng)

    def _compensate(self, wf: _Workflow, step: Step, provider: str) -> Process:
        """The undo of a completed step: the static policy, its own attempts (DSL §11)."""
        if step.compensate is None:
            return
        wl = self.workload
        spec = wl.function(step.compensate)
        for attempt in range(1, wl.compensation_attempts + 1):
            # The undo names the provider that served the step (its own refund API).
            effect = (wf, step.name, "undo", provider)
            reply = yield _Call(step.compensate, effect, spec.timeout)
            if reply.outcome is Outcome.OK:
                return
            if attempt < wl.compensation_attempts:
                yield _Sleep(wl.initial * wl.coefficient ** (attempt - 1))

    def _record(self, wf: _Workflow, node: str, *, failed: bool, attempts: int) -> None:
        if self.tracing:
            self.trace.append(CallRecord(wf.id, node, self.now, failed, attempts))


def simulate(
    scenario: Scenario,
    policy: PolicySpec,
    seed: int,
    workload: Workload | None = None,
    **options: Any,
) -> SimResult:
    """Run one cell of the matrix for one seed."""
    return Simulator(scenario, policy, seed, workload, **options).run()
