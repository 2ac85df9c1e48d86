"""Uncertain outcomes (docs/dsl.md §11): a task that timed out after doing its side effect is
compensated when the saga unwinds; a task that failed with a typed business error is not; a
primary that timed out is undone before its fallback does the work again."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers import uncertain_functions as fns
from tests.helpers.run import nexus_worker, start

FNS = "python:tests.helpers.uncertain_functions"

SAGA = f"""
name: uncertain-saga
functions:
  charge: {FNS}:charge
  hang: {FNS}:charge_then_hang
  decline: {FNS}:decline
  refund: {FNS}:refund
states:
  - name: Reserve
    action: charge
    compensate:
      action: refund
      input: '{{"undo": "reserve"}}'
    next: Charge
  - name: Charge
    action: hang
    timeout: 1s
    retry: {{max_attempts: 1}}
    compensate:
      action: refund
      input: '{{"undo": "charge", "uncertain": Charge.uncertain, "function": Charge.function}}'
    catch:
      - errors: [Timeout]
        next: Declined
  - name: Declined
    action: decline
    compensate:
      action: refund
      input: '{{"undo": "declined"}}'
"""

FALLBACK = f"""
name: uncertain-fallback
functions:
  charge: {FNS}:charge
  hang: {FNS}:charge_then_hang
  refund: {FNS}:refund
states:
  - name: Pay
    action: hang
    fallback: [charge]
    timeout: 1s
    retry: {{max_attempts: 1}}
    compensate:
      action: refund
      input: '{{"undo": "pay", "function": Pay.function}}'
    output: '{{"served_by": served_by}}'
"""


async def test_timed_out_task_is_compensated_business_error_is_not(
    env: WorkflowEnvironment,
) -> None:
    async with nexus_worker(env.client, SAGA) as w:
        handle = await start(env.client, w, "uncertain-saga", {})
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "CardDeclined"
    comps = cause.details[0]["compensations"]
    # Charge timed out after charging: undone; Declined did nothing: not undone.
    assert [(c["state"], c["status"]) for c in comps] == [
        ("Charge", "compensated"),
        ("Reserve", "compensated"),
    ]
    ledger = fns.entries(handle.id)
    assert [fn for fn, _, _ in ledger] == [
        "charge",
        "charge_then_hang",
        "decline",
        "refund",
        "refund",
    ]
    _, key, payload = ledger[3]
    assert key == f"{handle.id}/Charge/1/compensate"
    assert payload == {"undo": "charge", "uncertain": True, "function": "hang"}
    assert ledger[4][2] == {"undo": "reserve"}


async def test_uncertain_primary_is_undone_before_the_fallback(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, FALLBACK) as w:
        handle = await start(env.client, w, "uncertain-fallback", {})
        result = await handle.result()
    assert result["Pay"] == {"served_by": "charge"}
    ledger = fns.entries(handle.id)
    assert [fn for fn, _, _ in ledger] == ["charge_then_hang", "refund", "charge"]
    _, key, payload = ledger[1]
    assert key == f"{handle.id}/Pay/1/compensate/hang"
    assert payload == {"undo": "pay", "function": "hang"}
    # The fallback carries the same idempotency key as the primary.
    assert ledger[2][1] == ledger[0][1] == f"{handle.id}/Pay/1"
