"""Record one history per example scenario into tests/histories/*.json."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.emulators.harness import example_emulators
from interpreters.workflow import SEARCH_ATTRIBUTES
from nexus_temporal.demo import run_scenario, scenarios
from nexus_temporal.devserver import temporal_binary
from nexus_temporal.registry import load_registry
from workers.config import WorkerConfig
from workers.main import build_worker

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


async def main(only: list[str]) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(), search_attributes=SEARCH_ATTRIBUTES
    )
    async with env:
        folders = sorted({f for f, _ in scenarios(ROOT / "examples")})
        for folder in folders:
            if only and folder.name not in only:
                continue
            with example_emulators(folder) as emulators:
                config = WorkerConfig(
                    definitions=[folder],
                    task_queue=f"replay-{folder.name}",
                    providers=emulators.providers if emulators else None,
                )
                async with build_worker(env.client, config, load_registry([folder])):
                    for _, run in scenarios(folder):
                        await record(env, folder, run, config.task_queue)


async def record(
    env: WorkflowEnvironment, folder: Path, run: dict[str, object], queue: str
) -> None:
    outcome = await run_scenario(env.client, run, queue)
    history = await env.client.get_workflow_handle(outcome.workflow_id).fetch_history()
    name = re.sub(r"[^a-z0-9]+", "-", f"{folder.name}-{run['title']}".lower())
    data = history.to_json_dict()
    data["workflowId"] = outcome.workflow_id
    (HERE / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    print("recorded", name)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
