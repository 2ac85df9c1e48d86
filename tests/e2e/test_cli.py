"""The nexus CLI as users run it, and `temporal workflow start` with the Temporal CLI alone."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.devserver import temporal_binary
from nexus_temporal.registry import load_registry
from tests.helpers.processes import BIN, ROOT, kill_group, nexus_cmd, run_cli, spawn, wait_for_line
from workers.config import WorkerConfig
from workers.main import build_worker

PAYMENT = ROOT / "examples" / "payment_reconciliation"


def address_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def run_async(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_temporal_cli_starts_an_example(env: WorkflowEnvironment) -> None:
    queue = f"cli-{uuid.uuid4().hex[:8]}"
    wid = f"temporal-cli-{queue}"
    config = WorkerConfig(definitions=[PAYMENT], task_queue=queue)
    async with build_worker(env.client, config, load_registry([PAYMENT])):
        code, out, err = await run_async(
            temporal_binary(),
            "workflow",
            "start",
            "--type",
            "payment-reconciliation",
            "--task-queue",
            queue,
            "--workflow-id",
            wid,
            "--input",
            '{"user": "u1", "amount": 20}',
            "--address",
            address_of(env),
        )
        assert code == 0, err
        result = await env.client.get_workflow_handle(wid).result()
    assert result["LogTransaction"] == {"logged": "tx-u1-20"}


async def test_nexus_run_follows_states_and_prints_result(env: WorkflowEnvironment) -> None:
    queue = f"run-{uuid.uuid4().hex[:8]}"
    config = WorkerConfig(definitions=[PAYMENT], task_queue=queue)
    async with build_worker(env.client, config, load_registry([PAYMENT])):
        code, out, err = await run_async(
            *nexus_cmd(
                "run",
                "payment-reconciliation",
                "--input",
                '{"user": "u1", "amount": 5}',
                "--address",
                address_of(env),
                "--task-queue",
                queue,
            )
        )
        assert code == 0, err
        assert "-> ValidateUser" in out and "-> LogTransaction" in out
        result = json.loads(out[out.index("{") :])
        assert result["ExecuteTransfer"]["amount"] == 5
        code, out, err = await run_async(
            *nexus_cmd(
                "run",
                "Payment Reconciliation@1.0",
                "--input",
                '{"user": "u2", "amount": 50}',
                "--address",
                address_of(env),
                "--task-queue",
                queue,
            )
        )
    assert code == 1
    assert "FAILED in state 'CheckBalance': InsufficientFunds" in err
    assert "Traceback" not in out + err


async def test_nexus_start_and_signal(env: WorkflowEnvironment) -> None:
    queue = f"sig-{uuid.uuid4().hex[:8]}"
    approval = ROOT / "examples" / "approval"
    config = WorkerConfig(definitions=[approval], task_queue=queue)
    async with build_worker(env.client, config, load_registry([approval])):
        wid = f"exp-{queue}"
        code, out, err = await run_async(
            *nexus_cmd(
                "start",
                "expense-approval",
                "--input",
                '{"id": "e9", "amount": 500}',
                "--id",
                wid,
                "--address",
                address_of(env),
                "--task-queue",
                queue,
            )
        )
        assert code == 0, err
        code, out, err = await run_async(
            *nexus_cmd(
                "signal",
                wid,
                "approval",
                "--input",
                '{"approved": true, "by": "cli"}',
                "--address",
                address_of(env),
            )
        )
        assert code == 0, err
        result = await env.client.get_workflow_handle(wid).result()
    assert result["Record"]["by"] == "cli"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["run", "x", "--input", "{not json"], "--input is not valid JSON"),
        (["run", "x", "--input", "@/no/such/file.json"], "cannot read input file"),
        (["validate"], "the following arguments are required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str], needle: str) -> None:
    proc = run_cli(nexus_cmd(*args))
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli(nexus_cmd("run", "x", "--address", f"127.0.0.1:{port}"))
    assert proc.returncode == 1
    assert "cannot connect to Temporal" in proc.stderr and "Traceback" not in proc.stderr


def test_validate_graph_schema() -> None:
    ok = run_cli(nexus_cmd("validate", "examples"))
    assert ok.returncode == 0 and ok.stdout.count(": ok (") == len(
        list((ROOT / "examples").rglob("*.yaml"))
    )
    graph = run_cli(nexus_cmd("graph", "examples/approval/workflow.yaml"))
    assert graph.returncode == 0 and graph.stdout.startswith("flowchart TD")
    assert "WaitForApproval" in graph.stdout and "-.->|" in graph.stdout
    schema = json.loads(run_cli(nexus_cmd("schema")).stdout)
    assert "states" in schema["properties"] and "TaskState" in schema["$defs"]


def test_worker_refuses_invalid_definition(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstates:\n  - name: A\n    action: x\n    next: B\n")
    proc = run_cli(nexus_cmd("worker", str(bad), "--address", "127.0.0.1:1"))
    assert proc.returncode == 2
    assert f"{bad}:5:11" in proc.stderr and "'B'" in proc.stderr


def test_worker_refuses_missing_python_function(tmp_path: Path, env: WorkflowEnvironment) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: nofn\nfunctions:\n  f: python:tests.helpers.functions:nope\n"
        "states:\n  - name: A\n    action: f\n"
    )
    proc = run_cli(nexus_cmd("worker", str(bad), "--address", address_of(env)))
    assert proc.returncode == 2
    assert "function 'f'" in proc.stderr and "has no function 'nope'" in proc.stderr


async def test_nexus_dev_reuses_a_running_server_and_stops_on_ctrl_c(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"dev-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "dev.log"
    proc = spawn(
        nexus_cmd("dev", str(PAYMENT), "--address", address_of(env), "--task-queue", queue), log
    )
    try:
        wait_for_line(log, "worker serving", proc)
        assert "reused" in log.read_text()
        client = await Client.connect(address_of(env))
        result = await client.execute_workflow(
            "payment-reconciliation",
            {"user": "u1", "amount": 1},
            id=f"dev-{queue}",
            task_queue=queue,
        )
        assert result["LogTransaction"]["logged"] == "tx-u1-1"
    finally:
        kill_group(proc, signal.SIGINT)
    assert proc.returncode == 0
    assert "stopped" in log.read_text()


def test_validate_refuses_same_version_with_different_content(tmp_path: Path) -> None:
    body = 'name: twin\nversion: "1"\nstates:\n  - name: {0}\n    type: succeed\n'
    (tmp_path / "a.yaml").write_text(body.format("A"))
    (tmp_path / "b.yaml").write_text(body.format("B"))
    proc = run_cli(nexus_cmd("validate", str(tmp_path)))
    assert proc.returncode == 2
    assert "'twin@1' is also defined in" in proc.stderr and "new 'version'" in proc.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_cli(nexus_cmd("validate", str(empty)))
    assert proc.returncode == 2 and "no definition files" in proc.stderr


async def test_nexus_run_shows_map_progress(env: WorkflowEnvironment, tmp_path: Path) -> None:
    definition = tmp_path / "progress.yaml"
    definition.write_text(
        "name: progress-map\nfunctions:\n  slow: python:tests.helpers.functions:sleep_then_echo\n"
        "states:\n  - name: Each\n    type: map\n"
        "    items: '$map([1..400], function($i) { {\"seconds\": 0.05} })'\n"
        "    action: slow\n    max_concurrency: 20\n    results: discard\n"
    )
    queue = f"prog-{uuid.uuid4().hex[:8]}"
    config = WorkerConfig(definitions=[definition], task_queue=queue)
    async with build_worker(env.client, config, load_registry([definition])):
        code, out, err = await run_async(
            *nexus_cmd("run", "progress-map", "--address", address_of(env), "--task-queue", queue)
        )
    assert code == 0, err
    assert re.search(r"Each \[[#.]{30}\] \d+/400 \(\d+%\) failed 0 .* items/s  ETA", out), out
    assert '"items": 400' in out


def test_worker_refuses_a_chain_to_an_unknown_definition(tmp_path: Path) -> None:
    bad = tmp_path / "chain.yaml"
    bad.write_text(
        "name: chain\nstates:\n  - name: Call\n    type: workflow\n    workflow: nowhere@3\n"
    )
    proc = run_cli(nexus_cmd("worker", str(bad), "--address", "127.0.0.1:1"))
    assert proc.returncode == 2
    assert "no definition named 'nowhere'" in proc.stderr and "(state 'Call')" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["overhead", "--states", "3", "--rounds", "1"],
        ["overhead", "--express", "--states", "3", "--rounds", "1"],
        ["fanout", "--items", "300", "--concurrency", "50"],
    ],
    ids=["overhead", "overhead-express", "fanout"],
)
def test_benches_run_and_report_a_ratio(args: list[str]) -> None:
    proc = run_cli(nexus_cmd("bench", *args, "--json"), timeout=240)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["bench"] == args[0] and report["ratio"] > 0


def test_nexus_demo_runs_every_example_from_the_project_directory(tmp_path: Path) -> None:
    # The console script, as `make demo` runs it: no PYTHONPATH help.
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("TEMPORAL_")
    }
    proc = subprocess.run(
        [str(BIN / "nexus"), "demo", "examples", "--db", str(tmp_path / "demo.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "all examples behaved as expected" in proc.stdout
    assert proc.stdout.count("== ") == sum(
        len(json.loads(p.read_text())["runs"]) for p in (ROOT / "examples").rglob("example.json")
    )
    assert "Web UI: http://localhost:8233" in proc.stdout
