"""Choice rules → JSONata conditions: every operator, its Path form, Is* tests, And/Or/Not,
wrong types are false; a Choice without Default fails with States.NoChoiceMatched."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.dsl.expressions import evaluate
from nexus_temporal.stepfunctions.choice import OPERATORS, condition
from nexus_temporal.stepfunctions.paths import Env
from tests.stepfunctions.run import run_asl

DATA = {
    "s": "banana",
    "n": 10,
    "f": 2.5,
    "b": True,
    "z": None,
    "t": "2024-05-01T10:00:00Z",
    "t2": "2024-05-01T11:00:00.000Z",
    "other_s": "apple",
    "other_n": 10,
    "file": "logs/2024/app.log",
}

CASES = [
    ({"StringEquals": "banana"}, "s", True),
    ({"StringEquals": "10"}, "n", False),  # wrong type: false
    ({"StringLessThan": "cherry"}, "s", True),
    ({"StringGreaterThan": "cherry"}, "s", False),
    ({"StringLessThanEquals": "banana"}, "s", True),
    ({"StringGreaterThanEquals": "banana"}, "s", True),
    ({"StringEqualsPath": "$.other_s"}, "s", False),
    ({"StringGreaterThanPath": "$.other_s"}, "s", True),
    ({"StringMatches": "logs/*.log"}, "file", True),
    ({"StringMatches": "logs/\\*"}, "file", False),
    ({"NumericEquals": 10}, "n", True),
    ({"NumericEquals": 10}, "s", False),
    ({"NumericLessThan": 3}, "f", True),
    ({"NumericGreaterThan": 3}, "f", False),
    ({"NumericLessThanEquals": 10}, "n", True),
    ({"NumericGreaterThanEquals": 11}, "n", False),
    ({"NumericEqualsPath": "$.other_n"}, "n", True),
    ({"NumericLessThanPath": "$.f"}, "n", False),
    ({"BooleanEquals": True}, "b", True),
    ({"BooleanEqualsPath": "$.b"}, "b", True),
    ({"TimestampEquals": "2024-05-01T10:00:00.000Z"}, "t", True),
    ({"TimestampLessThan": "2024-05-01T10:30:00Z"}, "t", True),
    ({"TimestampGreaterThan": "2024-05-01T10:30:00Z"}, "t", False),
    ({"TimestampLessThanEquals": "2024-05-01T10:00:00Z"}, "t", True),
    ({"TimestampGreaterThanEquals": "2024-05-01T10:00:01Z"}, "t", False),
    ({"TimestampLessThanPath": "$.t2"}, "t", True),
    ({"TimestampEquals": "2024-05-01T10:00:00Z"}, "s", False),
    ({"IsNull": True}, "z", True),
    ({"IsNull": True}, "missing", False),
    ({"IsPresent": True}, "z", True),
    ({"IsPresent": False}, "missing", True),
    ({"IsNumeric": True}, "f", True),
    ({"IsString": True}, "n", False),
    ({"IsBoolean": True}, "b", True),
    ({"IsTimestamp": True}, "t", True),
    ({"IsTimestamp": True}, "s", False),
]


def check(rule: dict[str, Any]) -> Any:
    return evaluate(condition(rule, Env()), DATA, {"data": {"value": DATA}})


@pytest.mark.parametrize(("op", "var", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_operator(op: dict[str, Any], var: str, expected: bool) -> None:
    assert bool(check({"Variable": f"$.{var}", **op})) is expected


def test_every_operator_is_covered() -> None:
    used = {next(iter(op)) for op, _, _ in CASES}
    # The Path forms of comparisons not listed above share the code of the listed ones.
    assert {o for o in OPERATORS if not o.endswith("Path")} <= used


def test_and_or_not() -> None:
    rule = {
        "And": [
            {"Variable": "$.n", "NumericGreaterThan": 5},
            {
                "Or": [
                    {"Variable": "$.s", "StringEquals": "x"},
                    {"Not": {"Variable": "$.b", "BooleanEquals": False}},
                ]
            },
        ]
    }
    assert check(rule) is True
    assert check({"Not": rule}) is False


async def test_choice_routes_and_no_match_fails(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.amount", "NumericGreaterThan": 100, "Next": "Big"},
                    {
                        "And": [
                            {"Variable": "$.amount", "IsPresent": True},
                            {"Variable": "$.amount", "NumericLessThanEquals": 100},
                        ],
                        "Next": "Small",
                    },
                ],
            },
            "Big": {"Type": "Pass", "Result": "big", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "End": True},
        },
    }
    assert await run_asl(env.client, asl, {"amount": 500}) == "big"
    assert await run_asl(env.client, asl, {"amount": 5}) == "small"
    with pytest.raises(WorkflowFailureError) as info:
        await run_asl(env.client, asl, {"amount": "x"})
    assert info.value.cause.type == "States.NoChoiceMatched"  # type: ignore[attr-defined]
