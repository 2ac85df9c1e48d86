"""Differential tests of the Step Functions importer against an independent ASL interpreter.

Every case of ``diff_cases.py`` runs twice with the same input and the same stub Lambda
functions (``diff_stubs.py``): as ASL in moto's Step Functions interpreter, in-process
(``asl_oracle.py``), and, converted by ``convert_asl``, as NEXUS YAML on the real Temporal dev
server, all cases on one worker. A successful execution must give an equal output; a failed one
the same error name (and, where a Fail state sets it, the same cause). Where moto is known to
differ from AWS, the case carries AWS's outcome and NEXUS is compared with that.

``IMPORTER_GAPS`` lists the cases that fail because of a named importer gap (strict xfail: the
test starts failing once the gap is closed, so the entry gets removed).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nexus_temporal.dsl.compiler import compile_text
from tests.helpers.run import nexus_worker
from tests.stepfunctions import diff_stubs
from tests.stepfunctions.asl_oracle import lambda_name, oracle
from tests.stepfunctions.diff_cases import CASES, Case

EXPECTED: dict[str, dict[str, Any]] = json.loads(
    Path(__file__).with_name("diff_expected.json").read_text()
)
STUB_MODULE = "tests.stepfunctions.diff_stubs"
#: case id -> the importer gap that makes it fail (strict xfail)
IMPORTER_GAPS: dict[str, str] = {}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_RUN_TIMEOUT = 20.0
_CONCURRENCY = 24


def workflow_name(case: Case) -> str:
    return "sfn-diff-" + case.id.replace("_", "-")


def _check(value: Any, kind: str) -> str:
    """``<kind>`` when ``value`` has the shape ``kind`` asks for, else a mismatch marker."""
    if kind == "uuid":
        ok = isinstance(value, str) and bool(_UUID.match(value))
    elif kind.startswith("int:"):
        low, high = (int(x) for x in kind.split(":")[1:])
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    else:
        raise ValueError(f"unknown check {kind!r}")
    return f"<{kind}>" if ok else f"<not {kind}: {value!r}>"


def normalise(case: Case, outcome: dict[str, Any]) -> dict[str, Any]:
    """The comparable part of an outcome: the output with random values replaced by their
    checked shape, or the error name (and cause where the case compares it)."""
    status = outcome["status"]
    if status == "SUCCEEDED":
        output = copy.deepcopy(outcome.get("output"))
        for key, kind in case.checks.items():
            if isinstance(output, dict) and key in output:
                output[key] = _check(output[key], kind)
        return {"status": status, "output": output}
    result = {"status": status, "error": outcome.get("error")}
    if case.compare_cause or status != "FAILED":
        result["cause"] = outcome.get("cause")
    return result


def expected_outcome(case: Case, oracle_outcome: dict[str, Any]) -> dict[str, Any]:
    if case.aws is not None:
        return normalise(case, {k: v for k, v in case.aws.items() if k != "note"})
    return normalise(case, oracle_outcome)


def retarget(yaml_text: str) -> str:
    """Point every ``aws-lambda:NAME`` function of a converted definition at the Python stub
    ``NAME`` of ``diff_stubs``."""
    doc = yaml.safe_load(yaml_text)
    functions = doc.get("functions") or {}
    for key, target in list(functions.items()):
        uri = target.get("uri") if isinstance(target, dict) else target
        if isinstance(uri, str) and uri.startswith("aws-lambda:"):
            stub = f"python:{STUB_MODULE}:{lambda_name(uri[len('aws-lambda:') :])}"
            if isinstance(target, dict):
                rest = {k: v for k, v in target.items() if k not in ("uri", "region", "qualifier")}
                functions[key] = {"uri": stub, **rest}
            else:
                functions[key] = stub
    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def convert(case: Case) -> str:
    """The case's ASL converted by the importer, its Lambda targets retargeted to the stubs;
    compiled once here so that one bad conversion cannot stop the shared worker."""
    from nexus_temporal.stepfunctions import convert_asl

    conversion = convert_asl(copy.deepcopy(case.asl), name=workflow_name(case))
    text = retarget(conversion.yaml_text)
    compile_text(text, f"{case.id}.yaml")
    return text


async def run_nexus(client: Client, worker: Worker, case: Case) -> dict[str, Any]:
    handle = await client.start_workflow(
        workflow_name(case),
        case.input,
        id=f"{workflow_name(case)}-{uuid.uuid4().hex[:8]}",
        task_queue=worker.task_queue,
    )
    try:
        output = await asyncio.wait_for(handle.result(), _RUN_TIMEOUT)
    except WorkflowFailureError as failure:
        cause = failure.cause
        if isinstance(cause, ApplicationError):
            details = cause.details[0] if cause.details else {}
            message = details.get("message") if isinstance(details, dict) else None
            return {"status": "FAILED", "error": cause.type, "cause": message}
        return {"status": "FAILED", "error": type(cause).__name__, "cause": str(cause)}
    except TimeoutError:
        why = f"no result within {_RUN_TIMEOUT}s"
        async for event in handle.fetch_history_events():
            if event.HasField("workflow_task_failed_event_attributes"):
                task_failure = event.workflow_task_failed_event_attributes.failure
                why = f"workflow task failed: {task_failure.message}"
        await handle.terminate("differential test timeout")
        return {"status": "TIMED_OUT", "cause": why}
    return {"status": "SUCCEEDED", "output": output}


@pytest.fixture(scope="module")
def oracle_outcomes() -> dict[str, dict[str, Any]]:
    """Every case run in moto, all at once."""
    diff_stubs.reset_attempts()
    with oracle(diff_stubs.STUBS) as asl:
        outcomes = asl.run_many([(c.id, c.asl, c.input) for c in CASES])
    diff_stubs.reset_attempts()
    return {case_id: outcome.to_json() for case_id, outcome in outcomes.items()}


@pytest.fixture(scope="module")
async def nexus_outcomes(
    env: WorkflowEnvironment, oracle_outcomes: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Every case converted and run on one worker (after the oracle: the flaky counters)."""
    outcomes: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}
    for case in CASES:
        try:
            texts[case.id] = convert(case)
        except Exception as exc:  # reported per case by the test
            outcomes[case.id] = {
                "status": "NOT_CONVERTED",
                "cause": f"{type(exc).__name__}: {exc}",
            }
    gate = asyncio.Semaphore(_CONCURRENCY)
    runnable = [c for c in CASES if c.id in texts]

    async def one(worker: Worker, case: Case) -> None:
        async with gate:
            outcomes[case.id] = await run_nexus(env.client, worker, case)

    if runnable:
        async with nexus_worker(env.client, *(texts[c.id] for c in runnable)) as worker:
            await asyncio.gather(*(one(worker, c) for c in runnable))
    return outcomes


def test_there_are_at_least_60_cases_covering_every_family() -> None:
    families = {c.family for c in CASES}
    assert len(CASES) >= 60
    assert families >= {"pass", "choice", "map", "parallel", "intrinsic", "error", "retry"}
    asl_text = json.dumps([c.asl for c in CASES])
    intrinsics = re.findall(r"States\.([A-Za-z0-9]+)\(", asl_text)
    assert set(intrinsics) >= {
        "Format", "StringToJson", "JsonToString", "Array", "ArrayPartition", "ArrayContains",
        "ArrayRange", "ArrayGetItem", "ArrayLength", "ArrayUnique", "Base64Encode",
        "Base64Decode", "Hash", "JsonMerge", "MathRandom", "MathAdd", "StringSplit", "UUID",
    }  # fmt: skip


def test_oracle_reproduces_the_recorded_outcomes(
    oracle_outcomes: dict[str, dict[str, Any]],
) -> None:
    """moto still gives the outcomes recorded (and checked by hand) in diff_expected.json."""
    by_id = {c.id: c for c in CASES}
    assert set(EXPECTED) == set(by_id), "re-record: python -m tests.stepfunctions.asl_oracle"
    changed = {
        case_id: (normalise(by_id[case_id], EXPECTED[case_id]), normalise(by_id[case_id], o))
        for case_id, o in oracle_outcomes.items()
        if normalise(by_id[case_id], EXPECTED[case_id]) != normalise(by_id[case_id], o)
    }
    assert not changed


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c,
            id=c.id,
            marks=[pytest.mark.xfail(strict=True, reason=IMPORTER_GAPS[c.id])]
            if c.id in IMPORTER_GAPS
            else [],
        )
        for c in CASES
    ],
)
async def test_nexus_matches_the_asl_interpreter(
    case: Case,
    oracle_outcomes: dict[str, dict[str, Any]],
    nexus_outcomes: dict[str, dict[str, Any]],
) -> None:
    expected = expected_outcome(case, oracle_outcomes[case.id])
    actual = normalise(case, nexus_outcomes[case.id])
    assert actual == expected, f"{case.id}: NEXUS {actual} != ASL {expected}"
