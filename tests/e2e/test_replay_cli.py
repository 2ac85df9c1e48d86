"""`nexus history export` and `nexus replay` as users run them, against real Temporal.

Histories of an order flow are recorded under v1 (one execution finished, one waiting for a
signal); `nexus replay` then flags the candidate that reorders two tasks, naming the state,
passes the candidate that only edits a part the waiting execution has not reached, and a worker
given that candidate with `replaces:` carries the waiting execution on to its end.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from interpreters.workflow import STATE_QUERY
from nexus_temporal.devserver import temporal_binary
from nexus_temporal.registry import load_registry
from tests.helpers.processes import BIN, ROOT, nexus_cmd
from workers.config import WorkerConfig
from workers.main import build_worker

V1 = """\
name: order-fulfilment
version: "1"
defaults:
  timeout: 10s
functions:
  reserve: python:examples.order_saga.functions:reserve_stock
  charge: python:examples.order_saga.functions:charge_card
  ship: python:examples.order_saga.functions:book_shipping
  notify: python:examples.approval.functions:notify_manager
states:
  - name: ReserveStock
    action: reserve
    input: '{"order": order_id, "items": items}'
    next: ChargeCard
  - name: ChargeCard
    action: charge
    input: '{"order": order_id, "amount": $sum(items.price)}'
    next: AwaitDispatch
  - name: AwaitDispatch
    type: wait
    signal: dispatch
    next: ShipOrder
  - name: ShipOrder
    action: ship
    input: '{"order": order_id, "address": address}'
"""

#: Breaking: the two tasks every execution has already run swap places.
REORDERED = V1.replace(
    """\
  - name: ReserveStock
    action: reserve
    input: '{"order": order_id, "items": items}'
    next: ChargeCard
  - name: ChargeCard
    action: charge
    input: '{"order": order_id, "amount": $sum(items.price)}'
    next: AwaitDispatch
""",
    """\
  - name: ChargeCard
    action: charge
    input: '{"order": order_id, "amount": $sum(items.price)}'
    next: ReserveStock
  - name: ReserveStock
    action: reserve
    input: '{"order": order_id, "items": items}'
    next: AwaitDispatch
""",
)

#: Compatible for an execution waiting in AwaitDispatch: a new task after the wait.
LATER_EDIT = V1.replace(
    "    signal: dispatch\n    next: ShipOrder\n",
    "    signal: dispatch\n    next: NotifyCustomer\n"
    "  - name: NotifyCustomer\n    action: notify\n"
    '    input: \'{"expense": order_id, "amount": $sum(items.price)}\'\n'
    "    next: ShipOrder\n",
)

ORDER = {"address": "1 Main St", "items": [{"sku": "a", "price": 20}, {"sku": "b", "price": 5}]}


def nexus(*args: str) -> list[str]:
    """The installed console script, as a user runs it (else the module entry point)."""
    script = BIN / "nexus"
    return [str(script), *args] if script.exists() else nexus_cmd(*args)


async def cli(*args: str, timeout: float = 120) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def definition(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workflow.yaml").write_text(text)
    return folder


def lines_by_id(out: str) -> dict[str, str]:
    """Report lines keyed by the workflow id they start with (notes are skipped)."""
    return {line.split(" ", 1)[0]: line for line in out.splitlines() if not line.startswith(" ")}


async def wait_in_state(env: WorkflowEnvironment, workflow_id: str, state: str) -> None:
    handle = env.client.get_workflow_handle(workflow_id)
    for _ in range(200):
        snapshot = await handle.query(STATE_QUERY)
        if snapshot["current"] == [state]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never reached {state}: {snapshot}")


async def test_replay_flags_the_reorder_and_passes_the_edit_not_yet_reached(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    address = env.client.service_client.config.target_host
    v1 = definition(tmp_path / "v1", V1)
    reordered = definition(tmp_path / "reordered", REORDERED)
    later = definition(tmp_path / "later", LATER_EDIT)
    queue = f"replay-{uuid.uuid4().hex[:8]}"
    done_id, waiting_id = f"done-{queue}", f"waiting-{queue}"

    # Record under v1: one execution runs to its end, one waits for its dispatch signal.
    config = WorkerConfig(definitions=[v1], task_queue=queue)
    async with build_worker(env.client, config, load_registry([v1])):
        done = await env.client.start_workflow(
            "order-fulfilment", {**ORDER, "order_id": "o-1"}, id=done_id, task_queue=queue
        )
        await done.signal("dispatch", {})
        assert await done.result() == {
            **ORDER,
            "order_id": "o-1",
            "ReserveStock": {"reservation_id": "res-o-1", "items": 2},
            "ChargeCard": {"charge_id": "ch-o-1", "amount": 25},
            "AwaitDispatch": {},
            "ShipOrder": {"tracking": "TRK-o-1"},
        }
        await env.client.start_workflow(
            "order-fulfilment", {**ORDER, "order_id": "o-2"}, id=waiting_id, task_queue=queue
        )
        await wait_in_state(env, waiting_id, "AwaitDispatch")

    # Export both with `nexus history export`, and the waiting one with the Temporal CLI too.
    exported = tmp_path / "histories"
    code, out, err = await cli(
        *nexus("history", "export", done_id, waiting_id, "-o", str(exported)),
        "--address",
        address,
    )
    assert code == 0, err
    assert sorted(p.name for p in exported.iterdir()) == [f"{done_id}.json", f"{waiting_id}.json"]
    raw = json.loads((exported / f"{done_id}.json").read_text())
    assert set(raw) == {"events"}  # the `temporal workflow show --output json` format
    from_cli = tmp_path / "temporal-cli" / f"{waiting_id}.json"
    from_cli.parent.mkdir()
    code, out, err = await cli(
        temporal_binary(),
        "workflow",
        "show",
        "--workflow-id",
        waiting_id,
        "--output",
        "json",
        "--address",
        address,
    )
    assert code == 0, err
    from_cli.write_text(out)

    # v1 itself: everything compatible.
    code, out, err = await cli(
        *nexus("replay", "--definitions", str(v1), "--history", str(exported), str(from_cli))
    )
    assert code == 0, out + err
    assert out.count(": compatible") == 3, out

    # Reordered tasks: every execution is flagged, at the state where it diverges.
    code, out, err = await cli(
        *nexus("replay", "-d", str(reordered), "--history", str(exported), str(from_cli))
    )
    assert code == 1, out + err
    assert out.count("INCOMPATIBLE at state 'ReserveStock'") == 3, out
    assert "the definition now enters 'ChargeCard'" in out
    assert "history scheduled function 'reserve' for state 'ReserveStock'" in out
    assert "now schedules function 'charge' for state 'ChargeCard'" in out
    assert "Traceback" not in out + err

    # A new task after the wait: compatible for the waiting execution (exported either way)...
    code, out, err = await cli(
        *nexus(
            "replay",
            "-d",
            str(later),
            "--history",
            str(exported / f"{waiting_id}.json"),
            str(from_cli),
            "--json",
        )
    )
    assert code == 0, out + err
    report = json.loads(out)
    assert report["compatible"] == 2 and report["incompatible"] == 0
    first = report["executions"][0]
    assert first["change"] == "changed-in-place"
    v1_hash = first["pinned"]["hash"]
    assert f'replaces: ["{v1_hash[:12]}"]' in first["note"]

    # ...but not for the execution that already went past the wait into ShipOrder.
    code, out, err = await cli(
        *nexus("replay", "-d", str(later), "--history", str(exported), "--address", address)
    )
    assert code == 1, out + err
    reports = lines_by_id(out)
    assert reports[waiting_id].endswith(": compatible"), out
    assert "INCOMPATIBLE at state 'ShipOrder'" in reports[done_id], out
    assert "now enters 'NotifyCustomer'" in reports[done_id], out

    # The same check against the server, by workflow id.
    code, out, err = await cli(
        *nexus("replay", "-d", str(reordered), "--workflow-id", waiting_id, "--address", address)
    )
    assert code == 1, out + err
    assert f"{waiting_id} " in out and "INCOMPATIBLE at state 'ReserveStock'" in out

    # Deploying the compatible edit with `replaces:` lets a worker carry the waiting execution.
    (later / "workflow.yaml").write_text(
        LATER_EDIT.replace('version: "1"\n', f'version: "1"\nreplaces: ["{v1_hash[:12]}"]\n')
    )
    config = WorkerConfig(definitions=[later], task_queue=queue)
    async with build_worker(env.client, config, load_registry([later])):
        waiting = env.client.get_workflow_handle(waiting_id)
        await waiting.signal("dispatch", {})
        result = await asyncio.wait_for(waiting.result(), 60)
    assert result["NotifyCustomer"] == {"notified": True, "expense": "o-2"}
    assert result["ShipOrder"] == {"tracking": "TRK-o-2"}


async def test_replay_usage_errors_exit_2(tmp_path: Path) -> None:
    examples = str(ROOT / "examples")
    history = ROOT / "tests" / "histories" / "order-saga-a-deliverable-order-ships.json"
    not_history = tmp_path / "not-history.json"
    not_history.write_text('{"hello": 1}')
    cases = [
        (["--history", str(tmp_path / "missing.json")], "no such file or directory"),
        (["--history", str(not_history)], "not a workflow history"),
        (["--history", str(tmp_path)], "not a workflow history"),
    ]
    for extra, needle in cases:
        code, out, err = await cli(*nexus("replay", "-d", examples, *extra))
        assert code == 2 and needle in err, (extra, out, err)
        assert "Traceback" not in err
    only_payment = str(ROOT / "examples" / "payment_reconciliation")
    code, out, err = await cli(*nexus("replay", "-d", only_payment, "--history", str(history)))
    assert code == 2, out + err
    assert "pinned 'order-saga@1', but no definition given is named 'order-saga'" in err
    code, out, err = await cli(*nexus("history", "export", "-o", str(tmp_path)))
    assert code == 2 and "give WORKFLOW_ID... or --query" in err, err
