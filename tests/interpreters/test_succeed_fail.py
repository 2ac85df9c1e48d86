"""Succeed ends with shaped output; fail ends with its error type and runs compensations."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

FNS = "python:tests.helpers.functions"


async def test_succeed_output(env: WorkflowEnvironment) -> None:
    yaml = """
    name: ok
    states:
      - name: Done
        type: succeed
        output: '{"greeting": "hello " & who}'
    """
    async with nexus_worker(env.client, yaml) as w:
        assert await execute(env.client, w, "ok", {"who": "you"}) == {"greeting": "hello you"}


async def test_fail_state_error_type_and_message(env: WorkflowEnvironment) -> None:
    yaml = """
    name: nope
    states:
      - name: Stop
        type: fail
        error: OutOfStock
        message: nothing left
    """
    async with nexus_worker(env.client, yaml) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "nope", {})
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "OutOfStock"
    assert cause.message == "state 'Stop' failed: OutOfStock: nothing left"
    assert cause.details[0]["state"] == "Stop"


async def test_non_object_input_is_wrapped(env: WorkflowEnvironment) -> None:
    yaml = """
    name: scalar
    states:
      - name: Done
        type: succeed
    """
    async with nexus_worker(env.client, yaml) as w:
        assert await execute(env.client, w, "scalar", 42) == {"input": 42}
