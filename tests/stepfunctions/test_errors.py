"""Invalid ASL gets located errors; Retry and Catch keep Step Functions semantics at run time
(error names, ErrorEquals order, MaxAttempts incl. 0, ResultPath of a catcher)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.stepfunctions import AslError, convert_asl
from tests.stepfunctions import stubs
from tests.stepfunctions.run import run_asl

FN = "arn:aws:lambda:us-east-1:123456789012:function:Work"


def test_bad_json_is_located() -> None:
    text = '{\n  "StartAt": "A",\n  "States": {\n    "A": {"Type": "Pass",, "End": true}\n  }\n}'
    with pytest.raises(AslError) as info:
        convert_asl(text, name="x", source="bad.json")
    assert info.value.render().startswith("bad.json:4:26: error: invalid JSON")


def test_unknown_state_type_is_located_with_a_hint() -> None:
    text = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Tsak", "End": True}}}, indent=2)
    with pytest.raises(AslError) as info:
        convert_asl(text, name="x", source="m.asl.json")
    issue = info.value.issues[0]
    assert (issue.location.line, issue.location.column) == (5, 15)
    assert "unknown state type 'Tsak'" in issue.message and issue.state == "A"
    assert issue.hint == "did you mean 'Task'?"


def test_dangling_next_is_located() -> None:
    text = "StartAt: A\nStates:\n  A:\n    Type: Pass\n    Next: Bee\n  B:\n    Type: Succeed\n"
    with pytest.raises(AslError) as info:
        convert_asl(text, name="x", source="m.asl.yaml")
    rendered = info.value.render()
    assert rendered.startswith("m.asl.yaml:5:11: error: 'Next' names unknown state 'Bee'")


def test_every_problem_is_reported_at_once() -> None:
    asl = {
        "StartAt": "Nope",
        "States": {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "Z"}]},
            "B": {"Type": "Task", "Resource": FN},
        },
    }
    with pytest.raises(AslError) as info:
        convert_asl(asl, name="x")
    messages = [i.message for i in info.value.issues]
    assert "'StartAt' names unknown state 'Nope'" in messages
    assert "'Next' names unknown state 'Z'" in messages
    assert "a Task state needs 'Next' or 'End': true" in messages


def _machine(retry: list[dict[str, Any]], catch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": FN,
                "Retry": retry,
                "Catch": catch,
                "ResultPath": "$.result",
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Handled": {"Type": "Pass", "End": True},
        },
    }


async def test_retry_only_listed_errors_then_catch_with_result_path(
    env: WorkflowEnvironment,
) -> None:
    asl = _machine(
        retry=[
            {
                "ErrorEquals": ["Transient"],
                "IntervalSeconds": 1,
                "MaxAttempts": 2,
                "BackoffRate": 1.0,
            }
        ],
        catch=[
            {"ErrorEquals": ["Other"], "Next": "Done"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Handled"},
        ],
    )
    # 'Fatal' is not retried (only 'Transient' is) and goes to the States.ALL catcher.
    data = {"key": "fatal-1", "fail_times": 5, "error": "Fatal"}
    result = await run_asl(env.client, asl, data, {"Work": "flaky"})
    assert stubs.attempts("fatal-1") == 1
    assert result["caught"] == {"Error": "Fatal", "Cause": "attempt 1 failed"}
    assert {k: result[k] for k in data} == data


async def test_retry_recovers_and_max_attempts_zero_does_not_retry(
    env: WorkflowEnvironment,
) -> None:
    asl = _machine(
        retry=[
            {"ErrorEquals": ["NoRetry"], "MaxAttempts": 0},
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 1,
                "MaxAttempts": 2,
                "BackoffRate": 1.5,
            },
        ],
        catch=[],
    )
    result = await run_asl(
        env.client, asl, {"key": "ok-2", "fail_times": 2, "error": "Transient"}, {"Work": "flaky"}
    )
    assert result["result"] == {"attempts": 3}
    with pytest.raises(WorkflowFailureError) as info:
        await run_asl(
            env.client,
            asl,
            {"key": "no-3", "fail_times": 1, "error": "NoRetry"},
            {"Work": "flaky"},
        )
    assert info.value.cause.type == "NoRetry"  # type: ignore[attr-defined]
    assert stubs.attempts("no-3") == 1


async def test_custom_lambda_error_name_and_cause(env: WorkflowEnvironment) -> None:
    asl = _machine(retry=[], catch=[{"ErrorEquals": ["CardDeclined"], "Next": "Handled"}])
    result = await run_asl(env.client, asl, {"error": "CardDeclined"}, {"Work": "fail_custom"})
    assert result["Error"] == "CardDeclined"
    assert json.loads(result["Cause"]) == {"errorMessage": "it broke", "errorType": "CardDeclined"}


async def test_task_timeout_is_states_timeout(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "Slow",
        "States": {
            "Slow": {
                "Type": "Task",
                "Resource": FN,
                "TimeoutSeconds": 1,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}],
                "End": True,
            },
            "TimedOut": {"Type": "Pass", "End": True},
        },
    }
    result = await run_asl(env.client, asl, {"seconds": 5}, {"Work": "sleepy"})
    assert result["Error"] == "States.Timeout"


async def test_fail_state_error_and_cause(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "F",
        "States": {"F": {"Type": "Fail", "Error": "Custom.Bad", "Cause": "went wrong"}},
    }
    with pytest.raises(WorkflowFailureError) as info:
        await run_asl(env.client, asl, {})
    cause: Any = info.value.cause
    assert cause.type == "Custom.Bad" and "went wrong" in cause.message
