"""State types that need the runtime: Map (inline, legacy Iterator, ItemBatcher), Parallel,
Wait, ``.waitForTaskToken`` callbacks, ``states:startExecution.sync`` child workflows and a
JSONata-mode machine with variables; each runs on the real dev server."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.stepfunctions import send_task_failure, send_task_success
from tests.helpers.run import nexus_worker, start
from tests.stepfunctions import stubs
from tests.stepfunctions.run import converted, run_asl

FN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


async def test_inline_map_with_item_selector_and_context(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.orders",
                "ItemSelector": {
                    "n.$": "$$.Map.Item.Value.qty",
                    "index.$": "$$.Map.Item.Index",
                    "customer.$": "$.customer",
                },
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Double",
                    "States": {
                        "Double": {
                            "Type": "Task",
                            "Resource": FN.format("Double"),
                            "ResultSelector": {"d.$": "$.doubled"},
                            "ResultPath": "$.out",
                            "End": True,
                        }
                    },
                },
                "ResultSelector": {"all.$": "$", "count.$": "States.ArrayLength($)"},
                "ResultPath": "$.results",
                "End": True,
            }
        },
    }
    data = {"customer": "c-1", "orders": [{"qty": 1}, {"qty": [2][0]}, {"qty": 5}]}
    result = await run_asl(env.client, asl, data, {"Double": "double"})
    assert result["results"]["count"] == 3
    assert result["results"]["all"][2] == {"n": 5, "index": 2, "customer": "c-1", "out": {"d": 10}}
    assert result["orders"] == data["orders"]


async def test_legacy_iterator_and_item_batcher(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "Batches",
        "States": {
            "Batches": {
                "Type": "Map",
                "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"job.$": "$.job"}},
                "ItemsPath": "$.items",
                "Iterator": {
                    "StartAt": "Count",
                    "States": {
                        "Count": {
                            "Type": "Pass",
                            "Parameters": {
                                "size.$": "States.ArrayLength($.Items)",
                                "job.$": "$.BatchInput.job",
                            },
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }
    result = await run_asl(env.client, asl, {"job": "j", "items": [1, 2, 3, 4, 5]})
    assert result == [{"size": 2, "job": "j"}, {"size": 2, "job": "j"}, {"size": 1, "job": "j"}]


async def test_parallel_with_parameters_and_result_path(env: WorkflowEnvironment) -> None:
    branch = {
        "StartAt": "B",
        "States": {"B": {"Type": "Task", "Resource": FN.format("Greet"), "End": True}},
    }
    other = {"StartAt": "C", "States": {"C": {"Type": "Pass", "Result": [1, [2]], "End": True}}}
    asl = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Parameters": {"who.$": "$.name"},
                "Branches": [branch, other],
                "ResultPath": "$.both",
                "Next": "Wait",
            },
            "Wait": {"Type": "Wait", "SecondsPath": "$.pause", "Next": "Done"},
            "Done": {"Type": "Succeed", "OutputPath": "$.both"},
        },
    }
    result = await run_asl(env.client, asl, {"name": "eve", "pause": 1}, {"Greet": "greet"})
    assert result == [{"greeting": "hello eve"}, [1, [2]]]


async def test_wait_for_task_token_success_and_failure(env: WorkflowEnvironment) -> None:
    asl = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": "${Queue}",
                    "key.$": "$.key",
                    "token.$": "$$.Task.Token",
                },
                "ResultPath": "$.answer",
                "TimeoutSeconds": 60,
                "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "Refused"}],
                "End": True,
            },
            "Refused": {"Type": "Pass", "End": True},
        },
    }
    text = converted(asl, {"sqs_sendMessage_waitForTaskToken": "record_token"}, name="ask")
    async with nexus_worker(env.client, text) as worker:
        outcomes = []
        for key, ok in (("cb-ok", True), ("cb-no", False)):
            handle = await start(env.client, worker, "ask", {"key": key})
            for _ in range(100):
                if key in stubs.TOKENS:
                    break
                await asyncio.sleep(0.1)
            token = stubs.TOKENS[key]
            assert token == f"{handle.id}|task-token:Ask"
            if ok:
                await send_task_success(env.client, token, {"approved": True})
            else:
                await send_task_failure(env.client, token, "Rejected", "not today")
            outcomes.append(await handle.result())
    assert outcomes[0] == {"key": "cb-ok", "answer": {"approved": True}}
    assert outcomes[1] == {"key": "cb-no", "why": {"Error": "Rejected", "Cause": "not today"}}


async def test_start_execution_sync_runs_a_child_workflow(env: WorkflowEnvironment) -> None:
    child = {
        "StartAt": "Greet",
        "States": {"Greet": {"Type": "Task", "Resource": FN.format("Greet"), "End": True}},
    }
    parent = {
        "StartAt": "Child",
        "States": {
            "Child": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {
                    "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Greeter",
                    "Input": {"who.$": "$.name"},
                },
                "ResultSelector": {"greeting.$": "$.Output.greeting", "status.$": "$.Status"},
                "End": True,
            },
        },
    }
    texts = (
        converted(parent, {}, name="parent"),
        converted(child, {"Greet": "greet"}, name="Greeter"),
    )
    async with nexus_worker(env.client, *texts) as worker:
        handle = await start(env.client, worker, "parent", {"name": "kim"})
        assert await handle.result() == {"greeting": "hello kim", "status": "SUCCEEDED"}


async def test_jsonata_mode_with_variables(env: WorkflowEnvironment) -> None:
    asl = {
        "QueryLanguage": "JSONata",
        "StartAt": "Init",
        "States": {
            "Init": {
                "Type": "Pass",
                "Assign": {"total": "{% $sum($states.input.prices) %}", "tag": "v1"},
                "Output": {"count": "{% $count($states.input.prices) %}"},
                "Next": "Call",
            },
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {
                    "FunctionName": FN.format("Double"),
                    "Payload": {"n": "{% $total %}"},
                },
                "Assign": {"doubled": "{% $states.result.Payload.doubled %}"},
                "Output": "{% $merge([$states.input, {'doubled': $states.result.Payload.doubled,"
                " 'unset': $doubled}]) %}",
                "Next": "Check",
            },
            "Check": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $doubled > 10 %}",
                        "Assign": {"picked": "rule 1"},
                        "Next": "Big",
                    }
                ],
                "Default": "Small",
            },
            "Big": {
                "Type": "Succeed",
                "Output": "{% {'size': 'big', 'total': $total, 'tag': $tag, 'picked': $picked,"
                " 'in': $states.input} %}",
            },
            "Small": {"Type": "Fail", "Error": "TooSmall"},
        },
    }
    result = await run_asl(env.client, asl, {"prices": [2, 4]}, {"Double": "double"})
    assert result == {
        "size": "big",
        "total": 6,
        "tag": "v1",
        "picked": "rule 1",
        "in": {"count": 2, "doubled": 12},
    }
    with pytest.raises(WorkflowFailureError) as info:
        await run_asl(env.client, asl, {"prices": [1]}, {"Double": "double"})
    assert info.value.cause.type == "TooSmall"  # type: ignore[attr-defined]
