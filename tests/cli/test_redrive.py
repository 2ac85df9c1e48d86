"""``nexus redrive`` on the command line: its flags, its refusals in one line, and a failed saga
redriven through the real command against the dev server (tests/e2e/test_redrive.py covers
the library in depth)."""

from __future__ import annotations

import asyncio
import json
import uuid

from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from tests.cli.helpers import assert_argparse_error, assert_lists, assert_usage_error, help_text
from tests.cli.helpers import nexus as run_nexus
from tests.e2e.test_redrive import CHAIN, SAGA
from tests.helpers import redrive_functions as fns
from tests.helpers.run import nexus_worker, start


def test_help_lists_the_flags() -> None:
    text = help_text("redrive")
    assert_lists(text, "workflow_id", "--run-id", "--version", "--definitions", "--dry-run")
    assert_lists(text, "--output", "--address")


def test_missing_id_and_stray_definitions_are_usage_errors() -> None:
    assert_argparse_error(run_nexus("redrive"), "nexus redrive", "workflow_id")
    result = run_nexus("redrive", "wf", "--definitions", "x.yaml", "--address", "127.0.0.1:1")
    assert_usage_error(result, "--definitions is for --version")


async def test_refusals_are_one_line(env: WorkflowEnvironment) -> None:
    address = env.client.service_client.config.target_host
    result = await asyncio.to_thread(run_nexus, "redrive", "no-such-id-15", "--address", address)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no workflow 'no-such-id-15'" in result.stderr.strip().splitlines()[-1]
    async with nexus_worker(env.client, CHAIN) as worker:
        handle = await start(env.client, worker, "rerun-chain", {"order": uuid.uuid4().hex})
        await handle.result()
        result = await asyncio.to_thread(run_nexus, "redrive", handle.id, "--address", address)
    assert result.returncode == 1, result
    assert result.stderr.strip() == (
        f"nexus: error: cannot redrive '{handle.id}': it succeeded, so there is nothing to "
        f"redrive; to run it again from a state, use `nexus rerun {handle.id} --from STATE`"
    )


async def test_redrive_a_failed_saga(env: WorkflowEnvironment) -> None:
    address = env.client.service_client.config.target_host
    order = uuid.uuid4().hex[:8]
    fns.DOWN.add(order)
    async with nexus_worker(env.client, SAGA) as worker:
        handle = await start(env.client, worker, "redrive-saga", {"order": order})
        try:
            await handle.result()
        except WorkflowFailureError:
            pass
        fns.DOWN.discard(order)
        dry = await asyncio.to_thread(
            run_nexus, "redrive", handle.id, "--dry-run", "--address", address
        )
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.startswith(f"would reset '{handle.id}'"), dry.stdout
        assert "warning: the failed run compensated Charge, Reserve" in dry.stdout
        result = await asyncio.to_thread(
            run_nexus, "redrive", handle.id, "--output", "json", "--address", address
        )
        assert result.returncode == 0, result.stderr
        done = json.loads(result.stdout)
        assert done["state"] == "Ship" and done["previous_run_id"] == handle.result_run_id
        out = await env.client.get_workflow_handle(handle.id, run_id=done["run_id"]).result()
    assert out["Ship"] == {"tracking": f"t-{order}"}
    assert fns.calls("reserve", order) == 1 and fns.calls("charge", order) == 1
