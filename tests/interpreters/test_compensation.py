"""Saga compensation: reverse order, own retry policy, outcomes recorded, failure named."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.run import execute, nexus_worker

FNS = "python:tests.helpers.functions"


def saga(undo_b: str, undo_b_retry: str = "") -> str:
    return f"""
    name: saga
    functions:
      echo: {FNS}:echo
      record: {FNS}:record
      boom: {FNS}:boom
      flaky: {FNS}:flaky
    states:
      - name: A
        action: echo
        input: '{{"step": "a"}}'
        compensate:
          action: record
          input: '{{"undo": A.step}}'
        next: B
      - name: B
        action: echo
        input: '{{"step": "b", "key": run}}'
        compensate:
          action: {undo_b}
          input: '{{"undo": B.step, "key": "undo-" & run, "fail_times": 1, "kind": "UndoBroke"}}'
          {undo_b_retry}
        next: C
      - name: C
        action: boom
        input: '{{"kind": "CFailed"}}'
    """


async def test_compensations_run_in_reverse_with_own_retry(env: WorkflowEnvironment) -> None:
    yaml = saga("flaky", "retry: {max_attempts: 3, initial_interval: 10ms}")
    async with nexus_worker(env.client, yaml) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "saga", {"run": "r1"})
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "CFailed"
    comps = cause.details[0]["compensations"]
    assert [c["state"] for c in comps] == ["B", "A"]
    assert all(c["status"] == "compensated" for c in comps)


async def test_compensation_that_finally_fails_is_named(env: WorkflowEnvironment) -> None:
    yaml = saga("boom")
    async with nexus_worker(env.client, yaml) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "saga", {"run": "r2"})
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "CompensationFailed"
    assert "compensation failed for B (boom)" in cause.message
    comps = cause.details[0]["compensations"]
    assert comps[0]["status"] == "failed" and comps[0]["error"]["type"] == "UndoBroke"
    assert comps[1] == {"state": "A", "action": "record", "status": "compensated"}
