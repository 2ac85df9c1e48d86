"""The JSONPath data pipeline (InputPath → Parameters → ResultSelector → ResultPath →
OutputPath), ``$$`` context paths and JSONPath translation."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.dsl.expressions import evaluate
from nexus_temporal.stepfunctions.paths import Env, jsonpath, result_path_expr, template
from tests.stepfunctions.run import run_asl

LAMBDA = "arn:aws:lambda:eu-west-1:123456789012:function:Double"


def ev(expr: str, value: Any) -> Any:
    return evaluate(expr, {"value": value}, {"data": {"value": value}})


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("$", {"a": 1}, {"a": 1}),
        ("$.a.b", {"a": {"b": [1]}}, [1]),
        ("$.a[1]", {"a": [5, 6]}, 6),
        ("$['x y'].z", {"x y": {"z": 3}}, 3),
        ("$.items[*].id", {"items": [{"id": [1]}, {"id": 2}]}, [[1], 2]),
        ("$..id", {"a": {"id": 1}, "b": [{"id": 2}]}, [1, 2]),
        ("$.items[?(@.n > 1)].n", {"items": [{"n": 1}, {"n": 2}, {"n": 3}]}, [2, 3]),
        ("$.items[-1:]", {"items": [1, 2, 3]}, [3]),
        ("$.items[0:2]", {"items": [1, 2, 3]}, [1, 2]),
    ],
)
def test_jsonpath_translation(path: str, value: Any, expected: Any) -> None:
    assert ev(jsonpath(path, "$data.value"), value) == expected


def test_parameters_template_keeps_literals_and_placeholders() -> None:
    expr = template(
        {
            "static": "${TableName}",
            "n.$": "$.n",
            "nested": {"list": [1, "a"], "ctx.$": "$$.State.Name"},
        },
        Env(state="S"),
    )
    assert ev(expr, {"n": 4}) == {
        "static": "${TableName}",
        "n": 4,
        "nested": {"list": [1, "a"], "ctx": "S"},
    }


@pytest.mark.parametrize(
    ("result_path", "expected"),
    [
        ("$", {"r": 1}),
        (None, {"in": 1}),
        ("$.out", {"in": 1, "out": {"r": 1}}),
        ("$.a.b", {"in": 1, "a": {"b": {"r": 1}}}),
    ],
)
def test_result_path(result_path: Any, expected: Any) -> None:
    expr = result_path_expr(result_path, "$data.value", '{"r": 1}')
    assert ev(expr, {"in": 1}) == expected


async def test_pipeline_runs_in_asl_order(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {
                "Type": "Pass",
                "Parameters": {"job.$": "$.job", "who.$": "$$.Execution.Input.user", "tag": "t"},
                "ResultPath": "$.prepared",
                "Next": "Double",
            },
            "Double": {
                "Type": "Task",
                "Resource": LAMBDA,
                "InputPath": "$.prepared",
                "Parameters": {"n.$": "$.job.n", "state.$": "$$.State.Name"},
                "ResultSelector": {"value.$": "$.doubled", "by.$": "$.meta.by"},
                "ResultPath": "$.result",
                "OutputPath": "$.result",
                "Next": "Discard",
            },
            "Discard": {
                "Type": "Pass",
                "Result": {"ignored": True},
                "ResultPath": None,
                "Next": "Shape",
            },
            "Shape": {
                "Type": "Pass",
                "InputPath": "$",
                "Parameters": {
                    "final.$": "$.value",
                    "summary.$": "States.Format('{} by {}', $.value, $.by)",
                },
                "OutputPath": "$",
                "End": True,
            },
        },
    }
    result = await run_asl(env.client, asl, {"job": {"n": 21}, "user": "ann"}, {"Double": "double"})
    assert result == {"final": 42, "summary": "42 by double"}


async def test_lambda_invoke_wraps_the_payload(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "${GreetFunctionArn}",
                    "Payload": {"who.$": "$.name"},
                },
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    result = await run_asl(env.client, asl, {"name": "bo"}, {"GreetFunctionArn": "greet"})
    assert result == {"greeting": "hello bo"}
