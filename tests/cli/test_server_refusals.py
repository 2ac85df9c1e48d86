"""Issue 14, what a real server refuses or cannot do, each said in one line without a traceback:
an unknown or completed workflow (signal), an id already running (start, run), an input over the
server's size limit, an unknown definition (with a did-you-mean), no worker on the task queue,
no server at all, and stdout closed early (``nexus ... | head``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.protocol import STATE_QUERY
from nexus_temporal.registry import UnknownDefinition, load_registry
from tests.helpers.processes import ROOT, nexus_cmd, run_cli
from workers.config import WorkerConfig
from workers.main import build_worker

APPROVAL = ROOT / "examples" / "approval"
SAGA = ROOT / "examples" / "order_saga"


@dataclass
class Served:
    address: str
    queue: str


@pytest.fixture
async def served(env: WorkflowEnvironment) -> AsyncIterator[Served]:
    queue = f"refusals-{uuid.uuid4().hex[:8]}"
    config = WorkerConfig(definitions=[APPROVAL, SAGA], task_queue=queue)
    async with build_worker(env.client, config, load_registry([APPROVAL, SAGA])):
        yield Served(env.client.service_client.config.target_host, queue)


async def nexus(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    argv = nexus_cmd(*args, "--address", served.address, "--task-queue", served.queue)
    return await asyncio.to_thread(run_cli, argv, 60)


def one_error_line(result: subprocess.CompletedProcess[str], code: int, *expected: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nexus: error: "), lines[0]
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


async def test_signal_to_an_unknown_workflow(served: Served) -> None:
    result = await nexus(served, "signal", "no-such-workflow", "approve")
    one_error_line(result, 1, "'no-such-workflow'", "no workflow has that id", "--namespace")


async def test_signal_to_a_completed_workflow(served: Served, env: WorkflowEnvironment) -> None:
    wid = f"done-{served.queue}"
    start = await nexus(
        served, "start", "expense-approval", "--input", '{"id": "e1", "amount": 5}', "--id", wid
    )
    assert start.returncode == 0, start.stderr
    await env.client.get_workflow_handle(wid).result()
    result = await nexus(served, "signal", wid, "approve")
    one_error_line(result, 1, "already completed", "only a running workflow")


async def test_start_and_run_with_an_id_already_running(served: Served) -> None:
    wid = f"dup-{served.queue}"
    data = '{"id": "e2", "amount": 500}'  # waits for an approval: it stays running
    first = await nexus(served, "start", "expense-approval", "--input", data, "--id", wid)
    assert first.returncode == 0, first.stderr
    for verb in ("start", "run"):
        result = await nexus(served, verb, "expense-approval", "--input", data, "--id", wid)
        one_error_line(result, 1, f"'{wid}' is already running", "--workflow-id")


async def test_an_input_over_the_blob_limit(served: Served, tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"blob": "x" * 3_000_000}))
    for args in (("run", "order-saga"), ("signal", "some-workflow", "approve")):
        result = await nexus(served, *args, "--input", f"@{big}")
        one_error_line(result, 1, "size exceeds limit", "by reference")


async def test_an_unknown_definition_suggests_the_close_name(
    served: Served, env: WorkflowEnvironment
) -> None:
    wid = f"typo-{served.queue}"
    result = await nexus(served, "run", "order-sag", "--id", wid)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("FAILED: UnknownDefinition: cannot start 'order-sag': "), line
    assert "did you mean 'order-saga'?" in line
    assert "None" not in line and line.count("UnknownDefinition") == 1, line
    state = await env.client.get_workflow_handle(wid).query(STATE_QUERY)
    assert state["status"] == "failed"


def test_the_registry_suggests_a_name_and_a_version() -> None:
    registry = load_registry([SAGA])
    with pytest.raises(UnknownDefinition, match="did you mean 'order-saga'"):
        registry.resolve("order-sag")
    with pytest.raises(UnknownDefinition, match="did you mean '1'"):
        registry.resolve("order-saga@1.")
    with pytest.raises(UnknownDefinition, match=r"'zzz' on this worker \(known: order-saga\)"):
        registry.resolve("zzz")


async def test_run_says_once_that_no_worker_polls_the_queue(env: WorkflowEnvironment) -> None:
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    address = env.client.service_client.config.target_host
    argv = nexus_cmd("run", "order-saga", "--address", address, "-q", queue)
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        await asyncio.sleep(9)  # the warning comes after 5 s; the run keeps waiting
        assert proc.poll() is None, "nexus run should keep waiting"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert err.count("no worker polls task queue") == 1, err
    assert f"'{queue}'" in err and "nexus worker" in err and "-q" in err
    assert "Traceback" not in err


def test_an_unreachable_server_says_what_to_check() -> None:
    result = run_cli(nexus_cmd("signal", "wf", "approve", "--address", "127.0.0.1:1"))
    line = one_error_line(result, 1, "cannot connect to Temporal at 127.0.0.1:1")
    assert "connection refused" in line and "nexus dev" in line and "TEMPORAL_ADDRESS" in line
    assert "tonic" not in line


def test_a_closed_stdout_ends_quietly() -> None:
    proc = subprocess.Popen(
        nexus_cmd("schema"), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| head` gone before the schema is printed
    started = time.monotonic()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 141, err
    assert err == "", err
    assert time.monotonic() - started < 30
