"""Two contents under one ``name@version``: a worker that is handed an execution pinned to
content it does not serve says so loudly (log, ``nexus_pin_mismatch`` metric, the task
failure; ``nexus_state`` names each execution's pinned hash), and the execution waits,
unharmed, for a worker that serves its pin."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from interpreters.workflow import STATE_QUERY
from nexus_temporal.runner import follow
from tests.e2e.test_metrics_health import address_of, sample
from tests.helpers.processes import kill_group, nexus_cmd, spawn, wait_for_line
from tests.helpers.run import registry_of
from workers.telemetry import free_port

FNS = "python:tests.helpers.security_functions"

ORIGINAL = f"""
name: split-brain
version: "1"
functions:
  ship: {FNS}:ship
states:
  - name: Hold
    type: wait
    signal: go
    next: Ship
  - name: Ship
    action: ship
"""
#: The same version label with other content: the mistake being reported.
EDITED = ORIGINAL.replace(
    "  - name: Ship\n    action: ship\n", "  - name: Ship\n    action: ship\n    timeout: 30s\n"
)


def worker(env: WorkflowEnvironment, folder: Path, queue: str, log: Path, metrics: int) -> Any:
    proc = spawn(
        nexus_cmd(
            "worker", str(folder), "--address", address_of(env), "--task-queue", queue,
            "--metrics-port", str(metrics),
        ),
        log,
    )  # fmt: skip
    wait_for_line(log, "worker serving", proc, timeout=120)
    return proc


async def until_query(handle: WorkflowHandle[Any, Any], status: str) -> dict[str, Any]:
    last: Any = None
    for _ in range(300):
        try:
            last = await handle.query(STATE_QUERY)
            if last.get("status") == status:
                return dict(last)
        except Exception as exc:  # the query may reach the worker before it has the task
            last = exc
        await asyncio.sleep(0.2)
    raise AssertionError(f"nexus_state never said {status!r}: {last!r}")


async def task_failure(handle: WorkflowHandle[Any, Any]) -> str:
    """The message of the execution's last failed workflow task (what the Web UI shows)."""
    for _ in range(300):
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return str(event.workflow_task_failed_event_attributes.failure.message)
        await asyncio.sleep(0.2)
    raise AssertionError("no workflow task failed")


async def test_a_worker_with_other_content_under_the_same_version_reports_it(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    assert EDITED != ORIGINAL
    original, edited = registry_of(ORIGINAL).plans[0], registry_of(EDITED).plans[0]
    assert (original.name, original.version) == (edited.name, edited.version)
    for name, text in (("a", ORIGINAL), ("b", EDITED)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "flow.yaml").write_text(text)
    queue = f"split-{uuid.uuid4().hex[:8]}"
    client: Client = env.client
    port_a, port_b = free_port(), free_port()

    first = worker(env, tmp_path / "a", queue, tmp_path / "a.log", port_a)
    try:
        handles = [
            await client.start_workflow(
                "split-brain", {}, id=f"split-{queue}-{i}", task_queue=queue
            )
            for i in range(3)
        ]
        for h in handles:
            state = await until_query(h, "running")
            assert state["hash"] == original.hash  # what each execution is pinned to
    finally:
        kill_group(first)

    second = worker(env, tmp_path / "b", queue, tmp_path / "b.log", port_b)
    try:
        for h in handles:
            await h.signal("go", {})
        # `nexus run` (runner.follow) says why the execution does not move.
        lines: list[str] = []
        following = asyncio.ensure_future(follow(handles[1], emit=lines.append, poll=0.2))
        for _ in range(300):
            if any("not on this worker" in line for line in lines):
                break
            await asyncio.sleep(0.1)
        following.cancel()
        assert any(
            line.startswith("  ! a worker fails this execution's workflow task") for line in lines
        ), lines
        failure = await task_failure(handles[0])
        assert f"with hash {original.hash[:12]} is not on this worker" in failure
        assert "give the change a new version" in failure
        log = (tmp_path / "b.log").read_text()
        for _ in range(100):
            if "two workers on this task queue serve different content" in log:
                break
            await asyncio.sleep(0.2)
            log = (tmp_path / "b.log").read_text()
        assert f"pinned to 'split-brain@1' hash {original.hash[:12]}" in log
        assert f"serves 'split-brain@1' with hash {edited.hash[:12]}" in log
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(f"http://127.0.0.1:{port_b}/metrics")).text
        count = sample(text, "nexus_pin_mismatch_total", definition="split-brain", version="1")
        assert count is not None and count >= 1, text[-2000:]
    finally:
        kill_group(second)

    # Nothing was lost: the worker with the pinned content finishes every execution.
    again = worker(env, tmp_path / "a", queue, tmp_path / "a2.log", free_port())
    try:
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
    finally:
        kill_group(again)
    assert all(r["Ship"] == {"shipped": True} for r in results)
