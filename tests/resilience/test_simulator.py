"""The virtual-time simulator and the benchmark's metrics (pure: no Temporal involved)."""

from __future__ import annotations

import math
from dataclasses import replace

from nexus_temporal.resilience.metrics import WorkflowRecord, aggregate, mttr, run_metrics
from nexus_temporal.resilience.scenarios import (
    POLICIES,
    SCENARIOS,
    Fault,
    Scenario,
    Workload,
)
from nexus_temporal.resilience.simulator import simulate

QUIET = Scenario("quiet", "no fault", 60.0, 60.0)


def test_same_seed_same_run_other_seed_other_run() -> None:
    wl = Workload(horizon=120.0)
    a = simulate(SCENARIOS["transient-20"], POLICIES["adaptive"], 3, wl, forest_every=30.0)
    b = simulate(SCENARIOS["transient-20"], POLICIES["adaptive"], 3, wl, forest_every=30.0)
    c = simulate(SCENARIOS["transient-20"], POLICIES["adaptive"], 4, wl, forest_every=30.0)
    assert a.metrics == b.metrics
    assert a.decisions == b.decisions and a.invocations == b.invocations
    assert a.metrics != c.metrics


def test_the_policy_code_decides_the_retries() -> None:
    static = simulate(SCENARIOS["transient-20"], POLICIES["static"], 1, forest_every=None)
    adaptive = simulate(SCENARIOS["overload"], POLICIES["adaptive"], 1, forest_every=None)
    none = simulate(SCENARIOS["transient-20"], POLICIES["no-retry"], 1, forest_every=None)
    assert set(static.decisions) <= {"static", "static: no time left"} and static.decisions
    # choose_delay's reasons, and the budget, all show up under an overload
    assert {"blip", "degraded", "breaker-open"} <= set(adaptive.decisions)
    assert adaptive.decisions.get("budget exhausted", 0) > 0
    assert none.decisions == {}
    assert none.metrics.amplification == 1.0


def test_no_fault_no_retry_every_workflow_completes_with_one_call_each() -> None:
    wl = Workload(arrival_rate=1.0, horizon=100.0)
    r = simulate(QUIET, POLICIES["no-retry"], 1, wl)
    m = r.metrics
    assert 70 <= m.workflows <= 130  # Poisson(100)
    assert m.completion == 1.0 and m.mttr_s == 0.0
    assert r.invocations == r.logical_calls == {s.name: m.workflows for s in wl.steps}
    assert m.safe_rollback is None and m.duplicate_effects == 0
    # each workflow: reserve 0.05 + charge 0.25 + ship 0.1 s (lognormal medians)
    assert m.p50_s is not None and 0.3 < m.p50_s < 0.55


def test_an_outage_without_retries_fails_exactly_the_workflows_that_hit_it() -> None:
    wl = Workload(arrival_rate=2.0, horizon=100.0)
    scenario = Scenario("o", "down 40-60", 40.0, 60.0, (Fault(40.0, 60.0, down=True),))
    r = simulate(scenario, POLICIES["no-retry"], 2, wl, trace=True)
    charge = [c for c in r.trace if c.node == "charge"]
    failed = {c.execution for c in charge if c.failed}
    # a charge call fails iff it was made during the outage (its refusal takes 10 ms)
    for c in charge:
        assert c.failed == (40.0 <= c.time - 0.01 < 60.0 - 1e-9) or abs(c.time - 60.01) < 0.02
    assert 20 <= len(failed) <= 60
    m = r.metrics
    assert math.isclose(m.completion, 1 - len(failed) / m.workflows)
    assert m.safe_rollback == 1.0  # every failed workflow released its reservation
    # the rolling success rate is back once the 10 s window has passed the outage's end
    assert 20.0 <= m.mttr_s <= 31.0


def test_partial_side_effects_are_undone_under_uncertain_outcome_semantics() -> None:
    wl = Workload(arrival_rate=2.0, horizon=100.0)
    scenario = Scenario("p", "partial", 20.0, 80.0, (Fault(20.0, 80.0, partial_rate=0.5),))
    old = simulate(scenario, POLICIES["no-retry"], 1, wl, compensate_uncertain=False).metrics
    dsl = simulate(scenario, POLICIES["no-retry"], 1, wl).metrics
    # every failed workflow failed in charge after charging: the former semantics undid only
    # reserve; the DSL now also undoes the uncertain charge (docs/dsl.md §11)
    assert 0.6 < dsl.completion < 0.8  # half the calls in 60% of the run fail
    assert old.safe_rollback == 0.0
    assert dsl.safe_rollback == 1.0 and dsl.completion == old.completion


def test_mttr_definition_on_a_hand_built_series() -> None:
    # one workflow per second; those started in [30, 50) fail
    series = [(float(t), not (30 <= t < 50)) for t in range(100)]
    # windows [t-10, t) hold a failure for t in (30, 59]; t = 60 is the first clean one for good
    assert mttr(series, onset=30.0, horizon=99.0) == 30.0
    assert mttr(series, onset=30.0, horizon=99.0, window=5.0) == 25.0
    never = [(float(t), t < 30) for t in range(100)]
    assert math.isinf(mttr(never, onset=30.0, horizon=99.0))
    assert mttr([(float(t), True) for t in range(100)], onset=30.0, horizon=99.0) == 0.0
    # 95% of a 50% baseline: a dip to 48% is no incident
    half = [(t / 2, t % 2 == 0 or (t % 25 == 1 and t > 100)) for t in range(200)]
    assert mttr(half, onset=30.0, horizon=99.0) == 0.0


def test_run_metrics_on_four_workflows() -> None:
    records = [
        WorkflowRecord(0.0, 1.0, True, True),
        WorkflowRecord(1.0, 4.0, True, True),
        WorkflowRecord(2.0, 3.0, False, True),
        WorkflowRecord(3.0, 9.0, False, False),
    ]
    m = run_metrics(records, invocations=10, logical_calls=4, onset=100.0, horizon=10.0)
    assert m.completion == 0.5
    assert m.amplification == 2.5
    assert m.goodput == 0.2
    assert m.p50_s == 2.0 and m.p99_s is not None and math.isclose(m.p99_s, 2.98)
    assert m.safe_rollback == 0.5
    agg = aggregate([m, replace(m, completion=1.0), replace(m, completion=0.0)])
    assert agg["completion"] == {"median": 0.5, "min": 0.0, "max": 1.0}
    assert agg["seeds"] == 3


def test_upstream_caution_raises_the_downstream_score() -> None:
    from nexus_temporal.resilience.simulator import Simulator

    wl = Workload(horizon=160.0)
    scenario = SCENARIOS["dependency"]  # reserve fails 30% of its calls from 60 s to 150 s
    runs = {}
    for name in ("adaptive", "adaptive-caution"):
        sim = Simulator(scenario, POLICIES[name], 1, wl, forest_every=None)
        sim.run()
        assert sim.scorer is not None
        runs[name] = sim.scorer.score("charge", 150.0).caution
    # the last reserve failure (just before 150 s) raised charge's caution for 10 s
    assert runs == {"adaptive": 0.0, "adaptive-caution": 0.5}
