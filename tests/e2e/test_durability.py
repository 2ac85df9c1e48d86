"""Nothing is lost: a SIGKILLed worker or a killed server leaves workflows to finish."""

from __future__ import annotations

import asyncio
import signal
import socket
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from interpreters.workflow import STATE_QUERY
from nexus_temporal.devserver import DevServer
from tests.helpers.processes import kill_group, nexus_cmd, spawn, wait_for_line

DEFINITION = "tests/e2e/definitions/slow_chain.yaml"


def address_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def wait_state(handle: object, state: str, timeout: float = 30) -> None:
    for _ in range(int(timeout * 10)):
        try:
            snap = await handle.query(STATE_QUERY)  # type: ignore[attr-defined]
            if state in snap["current"]:
                return
        except Exception:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"never reached {state}")


async def test_sigkill_worker_mid_run_then_new_worker_completes(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    args = nexus_cmd("worker", DEFINITION, "--address", address_of(env), "--task-queue", queue)
    log = tmp_path / "worker.log"
    first = spawn(args, log)
    wait_for_line(log, "worker serving", first)
    handle = await env.client.start_workflow(
        "slow-chain", {"seconds": 2}, id=f"crash-{queue}", task_queue=queue
    )
    await wait_state(handle, "Slow")
    kill_group(first, signal.SIGKILL)  # mid-activity, no clean shutdown
    second = spawn(args, tmp_path / "worker2.log")
    try:
        wait_for_line(tmp_path / "worker2.log", "worker serving", second)
        await wait_state(handle, "Hold", timeout=60)
        await handle.signal("go", None)
        result = await asyncio.wait_for(handle.result(), 60)
    finally:
        kill_group(second, signal.SIGTERM)
    assert result["Last"] == {"done": True}
    assert result["Slow"] == {"seconds": 2}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_server_killed_and_restarted_keeps_workflows(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "temporal.db"
    server = DevServer(port=port, ui_port=_free_port(), db_file=db).start()
    queue = "nexus"
    log = tmp_path / "worker.log"
    args = nexus_cmd("worker", DEFINITION, "--address", server.address, "--task-queue", queue)
    worker = spawn(args, log)
    try:
        wait_for_line(log, "worker serving", worker)
        client = await Client.connect(server.address)
        handle = await client.start_workflow(
            "slow-chain", {"seconds": 0}, id="survivor", task_queue=queue
        )
        await wait_state(handle, "Hold")
        assert server.process is not None
        server.process.kill()  # SIGKILL the server itself
        server.process.wait()
        server = DevServer(port=port, ui_port=server.ui_port, db_file=db).start()
        client = await Client.connect(server.address)
        handle = client.get_workflow_handle("survivor")
        await wait_state(handle, "Hold", timeout=60)
        await handle.signal("go", None)
        result = await asyncio.wait_for(handle.result(), 90)
        assert result["Last"] == {"done": True}
    finally:
        kill_group(worker, signal.SIGTERM)
        server.stop()


async def test_sigkill_during_2000_item_map_every_effect_exactly_once(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    import sqlite3

    ledger = tmp_path / "ledger.db"
    queue = f"ledger-{uuid.uuid4().hex[:8]}"
    args = nexus_cmd(
        "worker",
        "tests/e2e/definitions/ledger_map.yaml",
        "--address",
        address_of(env),
        "--task-queue",
        queue,
    )
    first = spawn(args, tmp_path / "w1.log")
    wait_for_line(tmp_path / "w1.log", "worker serving", first)
    handle = await env.client.start_workflow(
        "ledger-map", {"ledger": str(ledger)}, id=f"ledger-{queue}", task_queue=queue
    )

    def effects() -> int:
        try:
            with sqlite3.connect(ledger, timeout=30) as db:
                return int(db.execute("SELECT COUNT(*) FROM effects").fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    for _ in range(600):
        if effects() >= 400:
            break
        await asyncio.sleep(0.1)
    assert 400 <= effects() < 2000
    kill_group(first, signal.SIGKILL)
    second = spawn(args, tmp_path / "w2.log")
    try:
        wait_for_line(tmp_path / "w2.log", "worker serving", second)
        result = await asyncio.wait_for(handle.result(), 240)
    finally:
        kill_group(second, signal.SIGTERM)
    assert result["Each"] == {"items": 2000, "failed": 0, "failures": []}
    with sqlite3.connect(ledger) as db:
        keys = {k for (k,) in db.execute("SELECT key FROM effects")}
        calls = db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        values = sorted(n for (n,) in db.execute("SELECT n FROM effects"))
    assert keys == {f"{handle.id}/Each/{i}" for i in range(2000)}  # stable keys, no strays
    assert values == list(range(2000))  # every item's effect exactly once
    assert calls >= 2000  # items in flight at the kill really ran again
