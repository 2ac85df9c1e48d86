"""``nexus rerun`` on the command line: its flags, its refusals in one line, and a rerun from a
state through the real command against the dev server."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.testing import WorkflowEnvironment

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)
from tests.e2e.test_redrive import CHAIN
from tests.helpers import redrive_functions as fns
from tests.helpers.run import nexus_worker, start


def test_help_lists_the_flags() -> None:
    text = help_text("rerun")
    assert_lists(text, "workflow_id", "--from", "--input", "--run-id", "--workflow-id")
    assert_lists(text, "--dry-run", "--output", "--address")


def test_usage_errors() -> None:
    assert_argparse_error(nexus("rerun", "wf"), "nexus rerun", "--from")
    result = nexus("rerun", "wf", "--from", "S", "--input", "[1,", "--address", "127.0.0.1:1")
    assert_usage_error(result, "--input is not valid JSON")


async def test_rerun_from_a_state(env: WorkflowEnvironment) -> None:
    address = env.client.service_client.config.target_host
    order = uuid.uuid4().hex[:8]
    async with nexus_worker(env.client, CHAIN) as worker:
        source = await start(env.client, worker, "rerun-chain", {"order": order})
        await source.result()
        never = await asyncio.to_thread(
            nexus, "rerun", source.id, "--from", "Nowhere", "--address", address
        )
        assert never.returncode == 1 and "Traceback" not in never.stderr
        assert "it never reached that state (it entered: First, Second, Third)" in never.stderr
        new_id = f"{source.id}-again"
        result = await asyncio.to_thread(
            nexus,
            "rerun",
            source.id,
            "--from",
            "Third",
            "--workflow-id",
            new_id,
            "--address",
            address,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"start '{new_id}' running rerun-chain@"), result.stdout
        assert f"started: workflow {new_id}, run " in result.stdout
        out = await env.client.get_workflow_handle(new_id).result()
    assert out["Third"] == {"seen": "from-first"}
    assert fns.calls("step:first", order) == 1 and fns.calls("step:second", order) == 1
    assert fns.calls("step:third", order) == 2
