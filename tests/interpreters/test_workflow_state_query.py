"""The ``nexus_state`` query through the real client: lists are always lists (never null),
and a succeeded run has no pending compensations."""

from __future__ import annotations

from typing import Any

from temporalio.testing import WorkflowEnvironment

from nexus_temporal.protocol import STATE_QUERY
from tests.helpers.run import nexus_worker, start

FNS = "python:tests.helpers.functions"

LISTS = ("current", "done", "trail", "pending_compensations", "compensations")

PLAIN = """
name: plain-query
states:
  - name: Only
    type: pass
"""

COMPENSATED = f"""
name: compensated-query
functions:
  work: {FNS}:echo
  undo: {FNS}:echo
states:
  - name: Book
    action: work
    compensate: undo
"""


def assert_lists(state: dict[str, Any]) -> None:
    for key in LISTS:
        assert isinstance(state.get(key), list), (key, state)


async def test_a_finished_run_lists_empty_lists_as_lists(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, PLAIN) as w:
        handle = await start(env.client, w, "plain-query", {})
        await handle.result()
        state = await handle.query(STATE_QUERY)
    assert state["status"] == "succeeded"
    assert_lists(state)
    assert isinstance(state["maps"], dict)
    assert state["current"] == [] and state["pending_compensations"] == []


async def test_a_succeeded_run_has_no_pending_compensations(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, COMPENSATED) as w:
        handle = await start(env.client, w, "compensated-query", {"x": 1})
        await handle.result()
        state = await handle.query(STATE_QUERY)
    assert state["status"] == "succeeded"
    assert state["done"] == ["Book"]
    assert state["pending_compensations"] == []
    assert_lists(state)


async def test_an_unknown_definition_answers_with_every_key(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, PLAIN) as w:
        handle = await env.client.start_workflow(
            "no-such-definition", {}, id=f"unknown-{w.task_queue}", task_queue=w.task_queue
        )
        try:
            await handle.result()
        except Exception:
            pass
        state = await handle.query(STATE_QUERY)
        fine = await start(env.client, w, "plain-query", {})
        await fine.result()
        keys = set((await fine.query(STATE_QUERY)).keys())
    assert state["status"] == "failed"
    assert_lists(state)
    assert state["maps"] == {} and state["trail_dropped"] == 0
    assert set(state) == keys
