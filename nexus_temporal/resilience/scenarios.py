"""The benchmark's workload, fault scenarios and retry policies, as plain data.

The workload is a three-step saga (``reserve`` → ``charge`` → ``ship``) whose ``reserve`` and
``charge`` have compensations (``release``, ``refund``); ``charge`` is the function the faults
hit. It has a capacity (concurrent slots with a FIFO queue behind them) and its error rate grows
with its load, so an overload can turn into a retry storm. ``charge-fallback`` is a slower,
healthy second provider that only the ``adaptive-fallback`` policy calls.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FAULTED",
    "POLICIES",
    "QUICK_POLICIES",
    "QUICK_SCENARIOS",
    "SCENARIOS",
    "Fault",
    "FunctionSpec",
    "PolicySpec",
    "Scenario",
    "Spike",
    "Step",
    "Workload",
]

#: The step every scenario's fault hits (its amplification is the one reported).
FAULTED = "charge"


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the simulator models it.

    Args:
        latency: median service time (s), lognormal with ``sigma``.
        capacity: concurrent executions; later requests wait in a FIFO queue (0: unlimited).
        timeout: the client's start-to-close timeout of one attempt (s).
        load_errors: the error probability grows with load: ``clamp((u - 2) / 4, 0, 0.9)``
            with ``u`` = requests in the function (running + queued) / ``capacity`` (none
            until as many wait as run; 50% with three times as many waiting); such
            errors come after the full service time (an overloaded server fails slowly).
    """

    name: str
    latency: float
    sigma: float = 0.3
    capacity: int = 0
    timeout: float = 5.0
    load_errors: bool = False


@dataclass(frozen=True)
class Step:
    name: str
    function: str
    compensate: str | None = None
    fallback: str | None = None


@dataclass(frozen=True)
class Workload:
    """Open-loop Poisson arrivals of saga workflows for ``horizon`` seconds (then a drain).

    Retries follow Temporal's default policy shape: ``initial`` 1 s, ``coefficient`` 2,
    ``maximum`` 100 s, unlimited attempts, bounded by each step's ``schedule_to_close``.
    Compensations always use the static policy with ``compensation_attempts`` (the DSL's
    default of 5).
    """

    arrival_rate: float = 8.0
    horizon: float = 240.0
    steps: tuple[Step, ...] = (
        Step("reserve", "reserve", compensate="release"),
        Step("charge", "charge", compensate="refund", fallback="charge-fallback"),
        Step("ship", "ship"),
    )
    functions: tuple[FunctionSpec, ...] = (
        FunctionSpec("reserve", 0.05),
        FunctionSpec("charge", 0.25, sigma=0.35, capacity=4, timeout=5.0, load_errors=True),
        FunctionSpec("charge-fallback", 0.5, capacity=16, timeout=5.0),
        FunctionSpec("ship", 0.1),
        FunctionSpec("release", 0.05),
        FunctionSpec("refund", 0.05),
    )
    initial: float = 1.0
    coefficient: float = 2.0
    maximum: float = 100.0
    max_attempts: int = 0
    schedule_to_close: float = 60.0
    compensation_attempts: int = 5

    def function(self, name: str) -> FunctionSpec:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class Fault:
    """What goes wrong with ``target`` during ``[start, end)``.

    ``error_rate``: calls answered 500 without running; ``latency_factor``: service time
    multiplied (brownout); ``down``: every call answered 503; ``partial_rate``: the function
    runs (its side effect happens) but the reply is an error; ``throttle_rps``: a token bucket
    (burst of one second) beyond which calls get 429 with ``Retry-After: retry_after``.
    """

    start: float
    end: float
    target: str = FAULTED
    error_rate: float = 0.0
    latency_factor: float = 1.0
    down: bool = False
    partial_rate: float = 0.0
    throttle_rps: float | None = None
    retry_after: float = 2.0

    def active(self, now: float) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True)
class Spike:
    """Arrivals multiplied by ``factor`` during ``[start, end)``."""

    start: float
    end: float
    factor: float


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    onset: float
    end: float
    faults: tuple[Fault, ...] = ()
    spike: Spike | None = None

    def rate_factor(self, now: float) -> float:
        s = self.spike
        return s.factor if s is not None and s.start <= now < s.end else 1.0


@dataclass(frozen=True)
class PolicySpec:
    """How failed attempts are handled.

    ``retry``: retry at all; ``adaptive``: delays from ``choose_delay`` over the target's
    anomaly score, and a retry budget; otherwise ``static_delay`` (Temporal's schedule);
    ``breaker``: calls go through the circuit breaker (refused calls never reach the function);
    ``fallback``: a failed step (or an open breaker) moves on to the step's fallback function.
    """

    name: str
    description: str
    retry: bool = True
    adaptive: bool = False
    breaker: bool = False
    fallback: bool = False
    #: Upstream caution: an attempt that fails raises the later steps' scores by this level.
    caution: float = 0.0
    #: Ablation: ``scored`` False keeps the budget and breaker but takes Temporal's static
    #: delays; ``forest`` False never fits the IsolationForest (its signal stays absent).
    scored: bool = True
    forest: bool = True


ONSET, END = 60.0, 150.0


def _transient(pct: int) -> Scenario:
    return Scenario(
        f"transient-{pct}",
        f"Bernoulli {pct}% errors on charge for 90 s",
        ONSET,
        END,
        (Fault(ONSET, END, error_rate=pct / 100),),
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _transient(1),
        _transient(5),
        _transient(20),
        _transient(50),
        Scenario(
            "throttle",
            "charge quota 6 calls/s (load 8/s) for 90 s; 429 with Retry-After 2 s",
            ONSET,
            END,
            (Fault(ONSET, END, throttle_rps=6.0, retry_after=2.0),),
        ),
        Scenario(
            "brownout",
            "charge latency x10 for 90 s (capacity-limited: its queue grows)",
            ONSET,
            END,
            (Fault(ONSET, END, latency_factor=10.0),),
        ),
        Scenario(
            "outage",
            "charge answers 503 to every call for 60 s",
            ONSET,
            ONSET + 60.0,
            (Fault(ONSET, ONSET + 60.0, down=True),),
        ),
        Scenario(
            "primary-down",
            "charge down for 90 s; its fallback provider is healthy",
            ONSET,
            END,
            (Fault(ONSET, END, down=True),),
        ),
        Scenario(
            "partial",
            "30% of charge calls run (side effect) but reply 500, for 90 s",
            ONSET,
            END,
            (Fault(ONSET, END, partial_rate=0.3),),
        ),
        Scenario(
            "dependency",
            "a shared dependency degrades: reserve 30% errors and charge latency x5, 90 s",
            ONSET,
            END,
            (
                Fault(ONSET, END, target="reserve", error_rate=0.3),
                Fault(ONSET, END, latency_factor=5.0),
            ),
        ),
        Scenario(
            "overload",
            "arrivals x3 for 30 s against charge's capacity (errors grow with load), then normal",
            ONSET,
            ONSET + 30.0,
            spike=Spike(ONSET, ONSET + 30.0, 3.0),
        ),
    )
}

POLICIES: dict[str, PolicySpec] = {
    p.name: p
    for p in (
        PolicySpec("no-retry", "one attempt per call", retry=False),
        PolicySpec("static", "Temporal's default exponential policy (1 s, x2, 100 s)"),
        PolicySpec("breaker", "static policy behind the circuit breaker", breaker=True),
        PolicySpec(
            "adaptive",
            "choose_delay over the anomaly score + retry budget + breaker",
            adaptive=True,
            breaker=True,
        ),
        PolicySpec(
            "adaptive-caution",
            "adaptive; a failed attempt raises the later steps' caution by 0.5 for 10 s",
            adaptive=True,
            breaker=True,
            caution=0.5,
        ),
        PolicySpec(
            "adaptive-no-forest",
            "adaptive without the IsolationForest signal (ablation)",
            adaptive=True,
            breaker=True,
            forest=False,
        ),
        PolicySpec(
            "budget-breaker",
            "static delays behind the retry budget and the adaptive breaker (ablation)",
            adaptive=True,
            breaker=True,
            scored=False,
        ),
        PolicySpec(
            "adaptive-fallback",
            "adaptive, then the fallback provider when the breaker is open or retries end",
            adaptive=True,
            breaker=True,
            fallback=True,
        ),
    )
}

QUICK_SCENARIOS = ("overload", "brownout", "transient-20")
QUICK_POLICIES = ("static", "adaptive")
