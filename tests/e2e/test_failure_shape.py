"""No traceback for a user's mistake or a business error (issue 14).

A failed execution's failure (the Web UI, ``temporal workflow show``) carries the NEXUS error's
type, message, state and details, and no stack trace; an activity's business error
(``ApplicationError``) carries none either, a bug's exception (``ValueError``) keeps its stack in
its ActivityTaskFailed event. The worker logs each failed attempt once: one line for a business
error, the traceback for a bug. Real dev server, real ``temporal`` CLI.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.codec import (
    NexusFailureConverter,
    NexusFailureConverterWithEncodedAttributes,
    nexus_failures,
)
from nexus_temporal.devserver import temporal_binary
from tests.helpers.run import nexus_worker, start

OUT_OF_STOCK = """
name: out-of-stock
states:
  - name: Check
    type: fail
    error: OutOfStock
    message: nothing left
"""

BUSINESS = """
name: business-errors
functions:
  boom: python:tests.helpers.functions:boom
  flaky: python:tests.helpers.functions:flaky
states:
  - name: Reserve
    action: boom
    input: '{"kind": "AddressRejected"}'
    catch:
      - errors: [AddressRejected]
        as: rejected
        next: Retry
  - name: Retry
    action: flaky
    input: '{"key": key, "fail_times": 1}'
    retry: {max_attempts: 3, initial_interval: 0.1}
    next: Charge
  - name: Charge
    action: boom
    input: '{"kind": "InsufficientFunds"}'
"""

BUG = """
name: buggy-function
functions:
  bad: python:tests.helpers.functions:value_error
states:
  - name: Compute
    action: bad
    retry: {max_attempts: 1}
"""


def _chain(failure: Failure) -> Iterator[Failure]:
    link: Failure | None = failure
    while link is not None:
        yield link
        link = link.cause if link.HasField("cause") else None


async def _failed(handle: WorkflowHandle[Any, Any]) -> tuple[Failure, list[Failure]]:
    """The WorkflowExecutionFailed failure, and the ActivityTaskFailed failures."""
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    history = await handle.fetch_history()
    [failed] = [
        e.workflow_execution_failed_event_attributes.failure
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
    ]
    activities = [
        e.activity_task_failed_event_attributes.failure
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    return failed, activities


def _details(failure: Failure) -> Any:
    [details] = DataConverter.default.payload_converter.from_payloads(
        failure.application_failure_info.details.payloads
    )
    return details


async def test_a_fail_state_fails_the_workflow_without_a_stack(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, OUT_OF_STOCK) as w:
        failed, _ = await _failed(await start(env.client, w, "out-of-stock"))
    assert [link.stack_trace for link in _chain(failed)] == [""]
    assert failed.application_failure_info.type == "OutOfStock"
    assert failed.application_failure_info.non_retryable
    assert failed.message == "state 'Check' failed: OutOfStock: nothing left"
    details = _details(failed)
    assert details["state"] == "Check"
    assert (details["type"], details["message"]) == ("OutOfStock", "nothing left")
    assert "details" in details and "compensations" in details


def _nexus_lines(caplog: pytest.LogCaptureFixture, state: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "nexus.activity" and getattr(r, "nexus_state", None) == state
    ]


async def test_business_errors_log_one_line_and_fail_without_a_stack(
    env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with nexus_worker(env.client, BUSINESS) as w:
        handle = await start(env.client, w, "business-errors", {"key": w.task_queue})
        failed, activities = await _failed(handle)

    # The history: no stack anywhere, the business error's type and state kept
    assert [link.stack_trace for link in _chain(failed)] == [""]
    assert failed.application_failure_info.type == "InsufficientFunds"
    assert _details(failed)["state"] == "Charge"
    assert {a.application_failure_info.type for a in activities} == {
        "AddressRejected",
        "InsufficientFunds",
    }
    assert all(link.stack_trace == "" for a in activities for link in _chain(a))

    # The log: no traceback; one WARNING line per failed attempt, naming what failed
    assert "Traceback" not in caplog.text
    assert all(r.exc_info is None and not r.exc_text for r in caplog.records)
    for state, function, error, attempt, retry in [
        ("Reserve", "boom", "AddressRejected", 1, "non-retryable"),
        ("Retry", "flaky", "Flaky", 1, "retryable"),
        ("Charge", "boom", "InsufficientFunds", 1, "non-retryable"),
    ]:
        [line] = _nexus_lines(caplog, state)
        assert line.levelno == logging.WARNING
        assert (line.nexus_function, line.error_type, line.attempt) == (  # type: ignore[attr-defined]
            function,
            error,
            attempt,
        )
        assert line.workflow_id == handle.id  # type: ignore[attr-defined]
        text = line.getMessage()
        for part in (f"'{state}'", f"'{function}'", error, f"attempt {attempt}", retry, handle.id):
            assert part in text, text
    assert not any("Completing activity as failed" in r.getMessage() for r in caplog.records)


async def test_a_bug_in_user_code_logs_its_traceback_once(
    env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with nexus_worker(env.client, BUG) as w:
        failed, [activity] = await _failed(await start(env.client, w, "buggy-function"))
    assert caplog.text.count("Traceback") == 1
    [line] = _nexus_lines(caplog, "Compute")
    assert line.levelno == logging.ERROR and line.exc_info is not None
    assert line.error_type == "ValueError"  # type: ignore[attr-defined]
    assert "raise ValueError" in caplog.text
    # The bug's stack stays in its ActivityTaskFailed event, for debugging; the workflow
    # failure the user sees is the NEXUS one: type, message, state, no stack.
    assert activity.application_failure_info.type == "ValueError"
    assert "value_error" in activity.stack_trace
    assert [link.stack_trace for link in _chain(failed)] == [""]
    assert failed.application_failure_info.type == "ValueError"
    assert _details(failed)["state"] == "Compute"


def _stack_traces(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(v) for k, v in node.items() if k in ("stackTrace", "stack_trace") and v]
        return found + [s for v in node.values() for s in _stack_traces(v)]
    if isinstance(node, list):
        return [s for v in node for s in _stack_traces(v)]
    return []


async def test_temporal_workflow_show_has_no_stack_trace(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, OUT_OF_STOCK, BUSINESS) as w:
        ids = []
        for reference, data in (("out-of-stock", {}), ("business-errors", {"key": w.task_queue})):
            handle = await start(env.client, w, reference, data)
            with pytest.raises(WorkflowFailureError):
                await handle.result()
            ids.append(handle.id)
    address = env.client.service_client.config.target_host
    for wid in ids:
        proc = await asyncio.create_subprocess_exec(
            temporal_binary(),
            *("workflow", "show", "--address", address, "-w", wid, "--output", "json"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        shown = json.loads(out)
        assert _stack_traces(shown) == [], wid
        text = out.decode()
        assert "WorkflowExecutionFailed" in text or "WORKFLOW_EXECUTION_FAILED" in text
        assert "site-packages" not in text and 'File \\"' not in text  # no worker paths


def test_the_converter_drops_the_stack_of_application_errors_only() -> None:
    def raised(exc: Exception) -> Exception:
        try:
            raise exc
        except Exception as caught:
            return caught

    plain = DataConverter.default.payload_converter
    for cls in (NexusFailureConverter, NexusFailureConverterWithEncodedAttributes):
        converter = cls()
        for exc, has_stack in (
            (raised(ApplicationError("declined", type="Declined")), False),
            (raised(ValueError("a bug")), True),
        ):
            failure = Failure()
            converter.to_failure(exc, plain, failure)
            stack = failure.stack_trace
            if failure.HasField("encoded_attributes"):
                assert failure.message == "Encoded failure" and stack == ""
                stack = plain.from_payloads([failure.encoded_attributes])[0]["stack_trace"]
            assert bool(stack) == has_stack, (cls, exc)
    # The worker assembly swaps the SDK's default failure converters for these, keeps others
    assert nexus_failures(DataConverter.default).failure_converter_class is NexusFailureConverter
    custom = DataConverter(failure_converter_class=NexusFailureConverterWithEncodedAttributes)
    assert nexus_failures(custom) is custom
