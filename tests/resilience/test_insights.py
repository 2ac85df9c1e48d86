"""``nexus insights``: failure correlation from synthetic observations and from histories
recorded on a real dev server."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.resilience.insights import (
    Observation,
    correlate,
    observations_from_history,
    to_mermaid,
)
from tests.helpers.processes import nexus_cmd, run_cli
from tests.helpers.run import nexus_worker


def _planted(seed: int = 7) -> list[Observation]:
    """300 executions 100 s apart: A fails in 30%; B fails 90% after an A failure, else 5%;
    C fails 25%, independently of both."""
    rng = random.Random(seed)
    out = []
    for i in range(300):
        t = 100.0 * i
        a = rng.random() < 0.3
        b = rng.random() < (0.9 if a else 0.05)
        c = rng.random() < 0.25
        ex = f"wf-{i}"
        out += [
            Observation(ex, "A", t, a),
            Observation(ex, "B", t + 1, b),
            Observation(ex, "C", t + 2, c),
        ]
    return out


def test_a_planted_correlation_is_found_and_an_unrelated_pair_is_not() -> None:
    obs = _planted()
    edges = {(e.source, e.target): e for e in correlate(obs, window=60.0)}
    ab = edges[("A", "B")]
    assert ab.lift > 2.5 and ab.p_value < 1e-6
    assert ab.n_ab <= ab.exposed == ab.n_a  # every A failure exposes the B right after it
    assert ab.total == 300 and 0 < ab.p_b < ab.p_b_given_a
    assert ("A", "C") not in edges and ("C", "B") not in edges and ("B", "A") not in edges
    # unfiltered, A -> C is there with a lift near 1
    every = {(e.source, e.target): e for e in correlate(obs, 60.0, keep_all=True)}
    assert 0.6 < every[("A", "C")].lift < 1.5
    # a window too short to reach from A to B finds nothing
    assert correlate(obs, window=0.5) == []
    text = to_mermaid([ab])
    assert text.startswith("flowchart LR") and 'n_A -->|"lift' in text


# --- histories recorded on the real dev server -------------------------------------------


def _fail_first_attempt(flag: str, payload: Any) -> dict[str, Any]:
    if payload.get(flag) and activity.info().attempt == 1:
        raise RuntimeError(f"{flag}: first attempt fails")
    if payload.get(flag + "_hard"):
        raise RuntimeError(f"{flag}: fails for good")
    return {"ok": True}


async def fn_a(payload: Any) -> dict[str, Any]:
    return _fail_first_attempt("a", payload)


async def fn_b(payload: Any) -> dict[str, Any]:
    return _fail_first_attempt("b", payload)


async def fn_c(payload: Any) -> dict[str, Any]:
    return _fail_first_attempt("c", payload)


MODULE = "python:tests.resilience.test_insights"
DEFINITION = f"""
name: insights-chain
functions:
  fa: {MODULE}:fn_a
  fb: {MODULE}:fn_b
  fc: {MODULE}:fn_c
defaults:
  retry: {{max_attempts: 2, initial_interval: 100ms}}
states:
  - name: StepA
    action: fa
    input: '$'
    next: StepB
  - name: StepB
    action: fb
    input: '$'
    next: StepC
  - name: StepC
    action: fc
    input: '$'
"""


async def test_insights_on_histories_recorded_from_a_real_server(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = env.client
    ids = []
    async with nexus_worker(client, DEFINITION, search_attributes=False) as worker:
        handles = []
        for i in range(24):
            bad = i % 3 == 0  # A and B fail (first attempt) together
            data = {"a": bad, "b": bad, "c": i % 2 == 0, "b_hard": i == 10}
            handles.append(
                await client.start_workflow(
                    "insights-chain",
                    data,
                    id=f"insights-{uuid.uuid4().hex[:8]}-{i}",
                    task_queue=worker.task_queue,
                )
            )
        for h in handles:
            try:
                await h.result()
            except WorkflowFailureError:
                pass  # i == 10: B fails for good
            ids.append(h.id)
            history = await h.fetch_history()
            (tmp_path / f"{h.id}.json").write_text(history.to_json())
    histories = [await client.get_workflow_handle(i).fetch_history() for i in ids[:3]]
    first = observations_from_history(histories[0])
    assert [(o.node, o.failed) for o in first] == [("fa", True), ("fb", True), ("fc", True)]
    by_state = observations_from_history(histories[1], by="state")
    assert [(o.node, o.failed) for o in by_state] == [
        ("StepA", False),
        ("StepB", False),
        ("StepC", False),
    ]

    mermaid, png = tmp_path / "g.mmd", tmp_path / "g.png"
    proc = run_cli(
        nexus_cmd(
            "insights",
            "--history",
            str(tmp_path),
            "--scope",
            "execution",
            "--json",
            "--mermaid",
            str(mermaid),
            "--png",
            str(png),
        ),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["executions"] == 24 and report["observations"] == 24 * 3 - 1
    edges = {(e["from"], e["to"]): e for e in report["edges"]}
    # B failed in the 8 executions where A failed (and in i == 10, where A did not)
    ab = edges[("fa", "fb")]
    assert (ab["n_a"], ab["exposed"], ab["n_ab"], ab["n_b"], ab["total"]) == (8, 8, 8, 9, 24)
    assert ab["lift"] > 2.5
    assert ("fa", "fc") not in edges  # C fails in half the executions, A or not
    graph = mermaid.read_text()
    assert 'n_fa["fa"]' in graph and 'n_fa -->|"lift 2.7 (8/8 vs 9/24)"| n_fb' in graph
    assert "| n_fc" not in graph
    assert png.read_bytes()[:4] == b"\x89PNG"

    text = run_cli(nexus_cmd("insights", "--history", str(tmp_path), "--scope", "execution"))
    assert text.returncode == 0 and "fa -> fb: lift" in text.stdout
    bad = run_cli(nexus_cmd("insights", "--history", str(tmp_path), "--window", "soon"))
    assert bad.returncode == 2 and "--window" in bad.stderr and "Traceback" not in bad.stderr
