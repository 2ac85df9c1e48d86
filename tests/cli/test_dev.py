"""``nexus dev``: the worker's flags and its own; nothing starts for an invalid definition."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.cli.helpers import assert_argparse_error, assert_lists, help_text, nexus
from tests.cli.test_worker import WORKER_FLAGS
from tests.helpers.processes import kill_group, nexus_cmd, spawn, wait_for_line


def test_help_lists_the_worker_flags_and_its_own() -> None:
    assert_lists(
        help_text("dev"),
        *WORKER_FLAGS,
        "--db DB",
        "--ui-port",
        "--ui-codec-endpoint",
        "--no-emulators",
    )


def test_an_invalid_definition_stops_it_before_any_server() -> None:
    result = nexus("dev", "tests/broken/choice_with_next.yaml", "--db", "/nonexistent/x.db")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Temporal dev server" not in result.stdout
    assert result.stderr.startswith("tests/broken/choice_with_next.yaml:8:5: error: ")


def test_a_bad_port_is_a_usage_error() -> None:
    assert_argparse_error(
        nexus("dev", "examples/approval", "--ui-port", "x"), "nexus dev", "invalid int value"
    )


async def test_dev_starts_the_emulators_example_json_declares(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """`nexus dev examples` (the README's command) serves multi_cloud out of the box: it starts
    the emulators examples/multi_cloud/example.json declares, one line each, and points the
    worker at them; Ctrl-C stops them with the worker."""
    address = env.client.service_client.config.target_host
    queue = f"dev-emu-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "dev.log"
    proc = spawn(nexus_cmd("dev", "examples", "--address", address, "--task-queue", queue), log)
    try:
        wait_for_line(log, "worker serving", proc, timeout=120)
        text = log.read_text()
        started = [x for x in text.splitlines() if x.startswith("emulator ")]
        assert [x.split()[1] for x in started] == [
            "aws-lambda",
            "azure-function:tax-app",
            "gcp-function",
        ], text
        assert all("(declared by examples/multi_cloud/example.json)" in x for x in started)
        assert "multi-cloud-quote@1" in text and "order-saga@1" in text
        result = await env.client.execute_workflow(
            "multi-cloud-quote",
            {"items": {"book": 2, "lamp": 1}, "currency": "EUR", "country": "de"},
            id=f"quote-{queue}",
            task_queue=queue,
        )
        assert result == {
            "net": 58.88,
            "vat": 11.19,
            "total": 70.07,
            "currency": "EUR",
            "fx_served_by": "fx_gcp",
        }
    finally:
        kill_group(proc, signal.SIGINT)
    assert proc.returncode == 0, log.read_text()
    assert "stopped" in log.read_text()


def test_dev_without_emulators_refuses_like_a_worker() -> None:
    result = nexus(
        "dev", "examples/multi_cloud", "--no-emulators", "--address", "127.0.0.1:1", timeout=120
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "the aws-lambda provider is not configured" in result.stderr
    assert "emulator " not in result.stdout and "Temporal dev server" not in result.stdout
