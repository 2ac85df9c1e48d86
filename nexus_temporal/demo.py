"""``nexus demo``: run every example's scenarios on the embedded dev server and print results.

Each example folder holds ``workflow.yaml``, its ``functions.py`` and ``example.json``:
``{"runs": [{"title", "workflow", "input", "signals": [{"name", "input"}], "expect"}]}``.
The e2e tests read the same files, so the demo shows exactly what is tested.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import uuid
from pathlib import Path
from typing import Any

from activities.emulators.harness import all_example_emulators
from nexus_temporal.client import DEFAULT_TASK_QUEUE, ConnectionSettings, connect
from nexus_temporal.devserver import DevServer, ensure_search_attributes
from nexus_temporal.registry import load_registry
from nexus_temporal.runner import RunResult, follow, start
from workers.config import WorkerConfig
from workers.main import build_worker

#: Where ``nexus dev`` and ``nexus demo`` keep the dev server's history by default.
DEFAULT_DB = Path(".nexus/temporal.db")


def scenarios(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every run of every ``example.json`` under ``root``, in a stable order."""
    out = []
    for spec in sorted(root.rglob("example.json")):
        for run in json.loads(spec.read_text())["runs"]:
            out.append((spec.parent, run))
    return out


async def run_scenario(
    client: Any, run: dict[str, Any], task_queue: str, emit: Any = None
) -> RunResult:
    handle = await start(
        client,
        run["workflow"],
        run.get("input", {}),
        task_queue=task_queue,
        workflow_id=f"demo-{uuid.uuid4().hex[:10]}",
    )
    for sig in run.get("signals", []):
        await handle.signal(sig["name"], sig.get("input"))
    return await follow(handle, emit=emit)


async def demo(
    root: Path, db: Path, keep: bool = False, address: str = "127.0.0.1:7233", ui_port: int = 8233
) -> int:
    """Run every scenario under ``root`` on the dev server (history in ``db``). With ``keep``,
    the server it started stays up, Web UI included, until Ctrl-C (or SIGTERM); without, it
    stops, and the closing lines say how to browse the executions again (``nexus dev``)."""
    # Expected failures are part of the demo; their activity tracebacks are worker noise here.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    registry = load_registry([root])
    host, _, port = address.partition(":")
    server = DevServer(host=host, port=int(port or 7233), ui_port=ui_port, db_file=db).start()
    print(
        f"Temporal dev server {'reused' if server.reused else 'started'} at {server.address}",
        flush=True,
    )
    failures = 0
    workflows = f"{server.ui_url}/namespaces/default/workflows"
    try:
        client = await connect(ConnectionSettings(address=server.address))
        sa = await ensure_search_attributes(client)
        task_queue = f"{DEFAULT_TASK_QUEUE}-demo"
        with all_example_emulators(root) as emulators:
            config = WorkerConfig(
                definitions=[root],
                task_queue=task_queue,
                search_attributes=sa,
                providers=emulators.providers if emulators else None,
            )
            async with build_worker(client, config, registry):
                for folder, run in scenarios(root):
                    print(f"\n== {folder.name}: {run['title']}", flush=True)
                    result = await run_scenario(
                        client, run, task_queue, emit=lambda line: print(line, flush=True)
                    )
                    status = "succeeded" if result.ok else "failed"
                    body = result.result if result.ok else result.error
                    print(f"   {status} (expected {run['expect']}):")
                    print("   " + json.dumps(body, sort_keys=True))
                    if status != run["expect"]:
                        failures += 1
        print(
            f"\n{'all examples behaved as expected' if not failures else f'{failures} unexpected'}",
            flush=True,
        )
        if server.reused:
            print(
                f"Web UI: {workflows} (the server at {server.address} was already running "
                "and keeps running)",
                flush=True,
            )
        elif keep:
            print(
                f"Web UI: {workflows} (the dev server keeps running; Ctrl-C stops it)",
                flush=True,
            )
            await _until_stopped()
    finally:
        server.stop()
    if not server.reused and not keep:
        again = f"nexus dev {root}" + ("" if db == DEFAULT_DB else f" --db {db}")
        if address != "127.0.0.1:7233" or ui_port != 8233:
            again += f" --address {address} --ui-port {ui_port}"
        print(
            f"The dev server has stopped; the executions are kept in {db}. To browse them, run "
            f"'{again}' and open the Web UI: {workflows} "
            "('nexus demo --keep' keeps the server up instead)",
            flush=True,
        )
    return 0 if not failures else 1


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("stopped", flush=True)
