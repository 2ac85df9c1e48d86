"""What the importer writes for the Step Functions semantics the differential tests check at run
time: the raw execution input, Choice paths that must exist, Map item errors, Fail paths,
Parallel causes, activity heartbeats; and ``$states_cause``."""

from __future__ import annotations

from typing import Any

import yaml

from nexus_temporal.dsl.compiler import compile_text
from nexus_temporal.dsl.expressions import evaluate
from nexus_temporal.dsl.intrinsics import states_cause
from nexus_temporal.stepfunctions import convert_asl


def converted(states: dict[str, Any], start: str | None = None) -> dict[str, dict[str, Any]]:
    asl = {"StartAt": start or next(iter(states)), "States": states}
    result = convert_asl(asl, name="m")
    compile_text(result.yaml_text, "m.yaml")
    return {s["name"]: s for s in yaml.safe_load(result.yaml_text)["states"]}


def test_start_reads_the_input_as_given() -> None:
    states = converted({"P": {"Type": "Pass", "End": True}})
    assert states["(start)"]["output"] == '{"value": $context.Execution.Input}'


def test_a_choice_fails_on_a_missing_path_except_under_is_present() -> None:
    states = converted(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.a", "IsPresent": True},
                            {"Variable": "$.a", "StringEquals": "x"},
                        ],
                        "Next": "Y",
                    },
                    {"Variable": "$.n", "NumericGreaterThanPath": "$.limit", "Next": "Y"},
                ],
                "Default": "Y",
            },
            "Y": {"Type": "Succeed"},
        }
    )
    rules = states["C"]["choices"]
    # rule 1: the IsPresent guard decides first, so evaluating it can never meet a missing $.a
    assert rules[0]["when"] == "$exists($data.value.a) and $not($exists($data.value.a))"
    assert rules[0]["next"] == "C (invalid path)"
    # rule 2: both paths must exist
    assert rules[2]["when"] == "$not($exists($data.value.n)) or $not($exists($data.value.limit))"
    fail = states["C (invalid path)"]
    assert fail["type"] == "fail" and fail["error"] == "States.Runtime"
    assert "$.a, $.n, $.limit" in fail["message"]


def test_a_choice_of_is_present_tests_only_has_no_invalid_path() -> None:
    states = converted(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.a", "IsPresent": False, "Next": "Y"}],
                "Default": "Y",
            },
            "Y": {"Type": "Succeed"},
        }
    )
    assert len(states["C"]["choices"]) == 1 and "C (invalid path)" not in states


def test_maps_fail_with_the_item_error_unless_a_tolerance_is_declared() -> None:
    item = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    plain = converted({"M": {"Type": "Map", "ItemProcessor": item, "End": True}})
    assert plain["M"]["on_item_failure"] == "item_error"
    tolerant = converted(
        {"M": {"Type": "Map", "ItemProcessor": item, "ToleratedFailureCount": 2, "End": True}}
    )
    assert "on_item_failure" not in tolerant["M"] and tolerant["M"]["tolerated_failures"] == 2


def test_fail_paths_and_expressions_become_computed_fields() -> None:
    paths = converted(
        {"F": {"Type": "Fail", "ErrorPath": "$.code", "CausePath": "States.Format('x {}', $.n)"}}
    )
    assert paths["F"]["error_expr"] == "$data.value.code"
    assert paths["F"]["message_expr"] == '$states_format("x {}", $data.value.n)'
    jsonata = converted(
        {"F": {"Type": "Fail", "QueryLanguage": "JSONata", "Error": "{% 'E' %}", "Cause": "c"}}
    )
    assert "error_expr" in jsonata["F"] and jsonata["F"]["message"] == "c"


def test_a_top_level_parallel_re_raises_an_uncaught_branch_failure() -> None:
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}
    states = converted({"P": {"Type": "Parallel", "Branches": [branch], "End": True}})
    assert states["P"]["catch"] == [{"errors": ["*"], "next": "P (failed)"}]
    rethrow = states["P (failed)"]
    assert rethrow["error_expr"] == "$data.error.type"
    error = {"type": "E", "message": "branch 'branch1': boom", "cause": "boom"}
    assert evaluate(rethrow["message_expr"], {}, {"data": {"error": error}}) == "boom"
    caught = converted(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [branch],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Y"}],
                "End": True,
            },
            "Y": {"Type": "Succeed"},
        }
    )
    assert "P (failed)" not in caught


def test_an_activity_tasks_heartbeat_is_carried() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:activity:"
    states = converted(
        {
            "A": {"Type": "Task", "Resource": arn + "work", "HeartbeatSeconds": 30, "End": True},
        }
    )
    assert states["A"]["heartbeat"] == "30s"
    result = convert_asl(
        {
            "StartAt": "L",
            "States": {
                "L": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                    "HeartbeatSeconds": 30,
                    "End": True,
                }
            },
        },
        name="m",
    )
    assert "heartbeat" not in result.yaml_text
    assert any("HeartbeatSeconds is dropped" in i.message for i in result.report)


def test_states_cause() -> None:
    lambda_error = {
        "type": "Bad",
        "message": "m",
        "details": {"errorType": "Bad", "errorMessage": "m"},
    }
    assert states_cause(lambda_error) == '{"errorMessage":"m","errorType":"Bad"}'
    wrapped = {
        "type": "Bad",
        "message": "branch 'b': m",
        "cause": "m",
        "details": lambda_error,
    }
    assert states_cause(wrapped) == states_cause(lambda_error)
    assert states_cause({"type": "E", "message": "branch 'b': x", "cause": "x"}) == "x"
    assert states_cause({"type": "E", "message": "plain"}) == "plain"
