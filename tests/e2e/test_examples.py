"""Every example's scenarios (examples/*/example.json) run end to end on real Temporal."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.emulators.harness import example_emulators
from nexus_temporal.demo import run_scenario, scenarios
from nexus_temporal.registry import load_registry
from workers.config import WorkerConfig
from workers.main import build_worker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCENARIOS = scenarios(EXAMPLES)


def subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and subset(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


def test_every_example_has_scenarios() -> None:
    folders = {p.parent for p in EXAMPLES.rglob("workflow.yaml")}
    assert folders == {folder for folder, _ in SCENARIOS}
    assert len(folders) >= 3


@pytest.mark.parametrize(
    "folder,run", SCENARIOS, ids=[f"{f.name}:{r['title']}" for f, r in SCENARIOS]
)
async def test_example(env: WorkflowEnvironment, folder: Path, run: dict[str, Any]) -> None:
    queue = f"examples-{uuid.uuid4().hex[:8]}"
    with example_emulators(folder) as emulators:  # cloud examples declare local emulators
        config = WorkerConfig(
            definitions=[folder],
            task_queue=queue,
            providers=emulators.providers if emulators else None,
        )
        async with build_worker(env.client, config, load_registry([folder])):
            outcome = await run_scenario(env.client, run, queue)
    assert outcome.ok == (run["expect"] == "succeeded"), outcome
    if outcome.ok:
        assert subset(run.get("result", {}), outcome.result), outcome.result
    else:
        assert outcome.error["type"] == run["error_type"]
        assert outcome.error["compensations"] == run["compensations"]
