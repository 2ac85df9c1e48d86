"""Issue 14, output a script can use: ``--output json`` on run, start, validate and replay is
one JSON document on stdout and nothing else there (``--json`` stays an alias on validate and
replay); ``start --output id`` is the bare workflow id; ``replay`` keeps the SDK core's
``[TMPRL1100]`` nondeterminism line off stderr, its own report says it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.registry import load_registry
from tests.cli.helpers import assert_lists, help_text, nexus
from tests.helpers.processes import ROOT, nexus_cmd, run_cli
from workers.config import WorkerConfig
from workers.main import build_worker

PAYMENT = ROOT / "examples" / "payment_reconciliation"
SAGA = ROOT / "examples" / "order_saga"
SHIPPED = ROOT / "tests" / "histories" / "order-saga-a-deliverable-order-ships.json"


@dataclass
class Served:
    address: str
    queue: str


@pytest.fixture
async def served(env: WorkflowEnvironment) -> AsyncIterator[Served]:
    queue = f"output-{uuid.uuid4().hex[:8]}"
    config = WorkerConfig(definitions=[PAYMENT], task_queue=queue)
    async with build_worker(env.client, config, load_registry([PAYMENT])):
        yield Served(env.client.service_client.config.target_host, queue)


async def served_nexus(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    argv = nexus_cmd(*args, "--address", served.address, "--task-queue", served.queue)
    return await asyncio.to_thread(run_cli, argv, 60)


def one_document(result: subprocess.CompletedProcess[str]) -> object:
    """stdout is exactly one JSON document (json.loads refuses anything around it)."""
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_verbs_list_output() -> None:
    for verb in ("run", "start", "validate", "replay"):
        assert_lists(help_text(verb), "--output")
    assert_lists(help_text("start"), "id")


async def test_run_output_json_succeeded_and_failed(served: Served) -> None:
    ok = await served_nexus(
        served, "run", "payment-reconciliation", "-i", '{"user": "u1", "amount": 5}', "-o", "json"
    )
    assert ok.returncode == 0, ok.stderr
    doc = one_document(ok)
    assert isinstance(doc, dict)
    assert doc["status"] == "completed" and doc["reference"] == "payment-reconciliation"
    assert doc["result"]["ExecuteTransfer"]["amount"] == 5
    assert "ValidateUser" in doc["states"] and doc["workflow_id"] and doc["run_id"]
    assert "-> ValidateUser" in ok.stderr  # the progress is on stderr
    failed = await served_nexus(
        served,
        "run",
        "payment-reconciliation",
        "--input",
        '{"user": "u2", "amount": 50}',
        "--output",
        "json",
    )
    assert failed.returncode == 1
    doc = one_document(failed)
    assert isinstance(doc, dict)
    assert doc["status"] == "failed" and doc["error"]["state"] == "CheckBalance"
    assert "InsufficientFunds" in json.dumps(doc["error"])
    assert "FAILED in state 'CheckBalance'" in failed.stderr


async def test_start_output_id_and_json(served: Served, env: WorkflowEnvironment) -> None:
    started = await served_nexus(
        served, "start", "payment-reconciliation", "-i", '{"user": "u1", "amount": 1}', "-o", "id"
    )
    assert started.returncode == 0, started.stderr
    wid = started.stdout.strip()
    assert started.stdout == wid + "\n" and " " not in wid
    await env.client.get_workflow_handle(wid).result()
    as_json = await served_nexus(
        served,
        "start",
        "payment-reconciliation",
        "-i",
        '{"user": "u1", "amount": 2}',
        "--id",
        f"json-{served.queue}",
        "--output",
        "json",
    )
    assert as_json.returncode == 0, as_json.stderr
    doc = one_document(as_json)
    assert doc == {
        "workflow_id": f"json-{served.queue}",
        "run_id": doc["run_id"],  # type: ignore[index]
        "reference": "payment-reconciliation",
        "namespace": "default",
        "task_queue": served.queue,
    }
    text = await served_nexus(served, "start", "payment-reconciliation", "-i", '{"user": "u1"}')
    assert text.stdout.startswith("started payment-reconciliation as workflow id ")


def test_validate_output_json_and_its_alias(tmp_path: Path) -> None:
    for flag in (["--output", "json"], ["--json"], ["-o", "json"]):
        result = nexus("validate", str(PAYMENT), *flag)
        assert result.returncode == 0, result.stderr
        doc = one_document(result)
        assert isinstance(doc, dict) and doc["valid"] is True and doc["issues"] == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: '1'\nstates: []\n")
    result = nexus("validate", str(bad), "--output", "json")
    assert result.returncode == 2
    doc = one_document(result)
    assert isinstance(doc, dict) and doc["valid"] is False and doc["issues"]


def _reordered(tmp_path: Path) -> Path:
    """order-saga@1 edited in place: ShipOrder waits instead of scheduling its function."""
    text = (SAGA / "workflow.yaml").read_text()
    head = text[: text.index("  - name: ShipOrder")]
    changed = tmp_path / "saga"
    changed.mkdir()
    (changed / "workflow.yaml").write_text(
        head
        + "  - name: ShipOrder\n    type: wait\n    duration: 5s\n    next: Done\n"
        + "  - name: Done\n    type: succeed\n"
    )
    return changed


def test_replay_output_json_and_its_alias(tmp_path: Path) -> None:
    for flag in ("--json", "--output=json"):
        result = nexus("replay", "-d", str(SAGA), "--history", str(SHIPPED), flag)
        assert result.returncode == 0, result.stderr
        doc = one_document(result)
        assert isinstance(doc, dict)
        assert doc["compatible"] == 1 and doc["incompatible"] == 0
        assert len(doc["executions"]) == 1
    result = nexus(
        "replay", "-d", str(_reordered(tmp_path)), "--history", str(SHIPPED), "-o", "json"
    )
    assert result.returncode == 1, result.stderr
    doc = one_document(result)
    assert isinstance(doc, dict) and doc["incompatible"] == 1


def test_replay_keeps_the_sdk_nondeterminism_line_off_stderr(tmp_path: Path) -> None:
    result = nexus("replay", "-d", str(_reordered(tmp_path)), "--history", str(SHIPPED))
    assert result.returncode == 1, result.stderr
    assert "INCOMPATIBLE at state 'ShipOrder'" in result.stdout
    assert "TMPRL1100" not in result.stderr, result.stderr
    assert "Failing workflow task" not in result.stderr
    assert result.stderr.strip().splitlines() == ["0 compatible, 1 incompatible (1 execution(s))"]
    compatible = nexus("replay", "-d", "examples", "--history", str(SHIPPED))
    assert compatible.returncode == 0 and "TMPRL" not in compatible.stderr, compatible.stderr
