"""Fail states with ``error_expr`` / ``message_expr``: the type and message come from the data."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.dsl.compiler import compile_text
from nexus_temporal.dsl.errors import DefinitionError
from tests.helpers.run import execute, nexus_worker

#: The example of docs/dsl.md §9.8.
COMPUTED = """
name: reject
states:
  - name: Reject
    type: fail
    error_expr: '"E_" & $string(code)'
    message_expr: '"code " & $string(code) & " rejected for " & customer'
"""


async def failure(env: WorkflowEnvironment, yaml: str, data: object) -> ApplicationError:
    async with nexus_worker(env.client, yaml) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "reject", data)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_error_and_message_are_computed_from_the_data(env: WorkflowEnvironment) -> None:
    cause = await failure(env, COMPUTED, {"code": 42, "customer": "kim"})
    assert cause.type == "E_42"
    assert cause.message == "state 'Reject' failed: E_42: code 42 rejected for kim"
    assert cause.details[0]["message"] == "code 42 rejected for kim"


async def test_an_error_expr_without_a_string_is_an_expression_error(
    env: WorkflowEnvironment,
) -> None:
    yaml = COMPUTED.replace("""'"E_" & $string(code)'""", "missing")
    cause = await failure(env, yaml, {"code": 42, "customer": "kim"})
    assert cause.type == "ExpressionError"
    assert "'error_expr' must give a non-empty string, got nothing" in cause.message


def test_a_fixed_and_a_computed_error_are_refused() -> None:
    with pytest.raises(DefinitionError) as info:
        compile_text(COMPUTED.replace("    error_expr:", "    error: Fixed\n    error_expr:"))
    assert "a fail state takes 'error' or 'error_expr', not both" in str(info.value)
