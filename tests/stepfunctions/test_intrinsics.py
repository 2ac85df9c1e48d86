"""The 18 intrinsic functions: ASL call syntax → ``$states_*`` JSONata functions, with Step
Functions' results; UUID and MathRandom are deterministic."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.dsl.expressions import ExpressionError, evaluate
from nexus_temporal.dsl.intrinsics import INTRINSICS
from nexus_temporal.stepfunctions.paths import Env, reference
from tests.stepfunctions.run import run_asl

VALUE = {
    "name": "Ann",
    "n": 3,
    "list": [1, 2, 2, 3],
    "obj": {"a": 1},
    "other": {"b": 2},
    "csv": "a,b;c",
    "json": '{"x": [1]}',
    "b64": "aGVsbG8=",
}
CONTEXT = {"Execution": {"Id": "wf-1"}, "State": {"Visit": 1}}

CASES: list[tuple[str, Any]] = [
    ("States.Format('Hello {}, you have {} items', $.name, $.n)", "Hello Ann, you have 3 items"),
    ("States.Format('literal \\{\\} and {}', $.name)", "literal {} and Ann"),
    ("States.StringToJson($.json)", {"x": [1]}),
    ("States.JsonToString($.obj)", '{"a":1}'),
    ("States.Array($.name, 1, States.Array(2))", ["Ann", 1, [2]]),
    ("States.ArrayPartition($.list, 3)", [[1, 2, 2], [3]]),
    ("States.ArrayContains($.list, 2)", True),
    ("States.ArrayRange(1, 9, 2)", [1, 3, 5, 7, 9]),
    ("States.ArrayGetItem($.list, 3)", 3),
    ("States.ArrayLength($.list)", 4),
    ("States.ArrayUnique($.list)", [1, 2, 3]),
    ("States.Base64Encode('hello')", "aGVsbG8="),
    ("States.Base64Decode($.b64)", "hello"),
    ("States.Hash('abc', 'SHA-1')", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("States.JsonMerge($.obj, $.other, false)", {"a": 1, "b": 2}),
    ("States.MathAdd($.n, -1)", 2),
    ("States.StringSplit($.csv, ',;')", ["a", "b", "c"]),
    ("States.ArrayGetItem(States.StringSplit($.csv, ','), 1)", "b;c"),
]


def run(call: str) -> Any:
    expr = reference(call, Env(state="S"))
    return evaluate(expr, {"value": VALUE}, {"data": {"value": VALUE}, "context": CONTEXT})


@pytest.mark.parametrize(("call", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_intrinsic(call: str, expected: Any) -> None:
    assert run(call) == expected


def test_all_18_are_mapped() -> None:
    assert len(INTRINSICS) == 18
    covered = {c.split("(")[0] for c, _ in CASES} | {"States.UUID", "States.MathRandom"}
    assert covered == set(INTRINSICS)


def test_uuid_and_random_are_deterministic_and_distinct_per_call() -> None:
    first = run("States.Array(States.UUID(), States.UUID(), States.MathRandom(1, 1000))")
    again = run("States.Array(States.UUID(), States.UUID(), States.MathRandom(1, 1000))")
    assert first == again
    assert first[0] != first[1] and len(first[0]) == 36 and first[0][14] == "4"
    assert 1 <= first[2] < 1000


def test_bad_arguments_are_runtime_errors() -> None:
    with pytest.raises(ExpressionError, match="out of range"):
        run("States.ArrayGetItem($.list, 9)")


async def test_intrinsics_run_in_a_workflow(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "Compute",
        "States": {
            "Compute": {
                "Type": "Pass",
                "Parameters": {
                    "msg.$": "States.Format('{} has {} items', $.name, "
                    "States.ArrayLength($.items))",
                    "id.$": "States.UUID()",
                    "again.$": "States.UUID()",
                    "parts.$": "States.ArrayPartition($.items, 2)",
                },
                "End": True,
            }
        },
    }
    result = await run_asl(env.client, asl, {"name": "cart", "items": [1, 2, 3]})
    assert result["msg"] == "cart has 3 items"
    assert result["parts"] == [[1, 2], [3]]
    assert len(result["id"]) == 36 and result["id"] != result["again"]


async def test_context_and_functions_in_a_plain_definition(env: WorkflowEnvironment) -> None:
    """The example of docs/dsl.md §8.6."""
    from tests.helpers.run import execute, nexus_worker

    yaml = """
    name: context-demo
    states:
      - name: Stamp
        type: pass
        assign:
          request: '$states_format("{}/{}", $context.Execution.Id, order_id)'
          id: '$states_uuid($context.Execution.Id & "/Stamp")'
          at: $context.State.EnteredTime
    """
    async with nexus_worker(env.client, yaml) as worker:
        result = await execute(env.client, worker, "context-demo", {"order_id": "o-1"})
    assert result["request"].startswith("t-") and result["request"].endswith("/o-1")
    assert len(result["id"]) == 36 and result["at"].endswith("Z")
