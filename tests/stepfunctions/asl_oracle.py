"""An independent ASL interpreter for the differential tests: moto's Step Functions.

moto 5 ships a port of LocalStack's ASL interpreter (``moto.stepfunctions.parser``) that really
executes state machines when mocked with ``config={"stepfunctions": {"execute_state_machine":
True}}``. Its Lambda calls would go to moto's Lambda (which needs Docker); the oracle replaces the
one function that performs the invocation (``lambda_eval_utils._invoke_lambda_function``) with a
call to a Python stub (``diff_stubs``) named like the Lambda function. Everything else, the
JSONPath data pipeline, intrinsics, Choice, Map, Parallel, Retry and Catch, is moto's own.
moto evaluates JSONata (``QueryLanguage: JSONata`` states) through a JVM bridge that it does not
ship; the oracle plugs jsonata-python (the engine NEXUS uses too) into that one hook, so for those
states only the ASL semantics around the expressions are independent.

``python -m tests.stepfunctions.asl_oracle`` runs every differential case in moto and prints (or
``--record``s) the outcomes to ``diff_expected.json``.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from unittest import mock

import boto3
import jsonata
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils,
)
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from temporalio.exceptions import ApplicationError

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/diff-oracle"


def _backend() -> Any:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return stepfunctions_parser_backends[ACCOUNT][REGION]


@dataclass(frozen=True)
class Outcome:
    """How one execution ended: its output, or its error name and cause."""

    status: str  # "SUCCEEDED" | "FAILED"
    output: Any = None
    error: str | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None or k == "output"}


def lambda_name(function_name: str) -> str:
    """``arn:aws:lambda:r:acct:function:NAME[:qualifier]`` / ``NAME`` -> ``NAME``."""
    parts = function_name.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


def _invoker(
    stubs: Mapping[str, Callable[[Any], Any]],
) -> Callable[..., dict[str, Any]]:
    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        name = lambda_name(str(parameters["FunctionName"]))
        raw = parameters.get("Payload")
        payload = json.loads(raw) if raw else {}
        stub = stubs.get(name)
        if stub is None:
            body: Any = {"errorType": "ResourceNotFound", "errorMessage": f"no stub {name!r}"}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": body}
        try:
            result = stub(payload)
        except ApplicationError as exc:
            body = {"errorType": exc.type or "ApplicationError", "errorMessage": exc.message}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": body}
        except Exception as exc:  # any other exception: its class name, like a Python Lambda
            body = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": body}
        # round-trip through JSON like a real invocation
        return {"StatusCode": 200, "Payload": json.loads(json.dumps(result))}

    return invoke


def _eval_jsonata(expression: str) -> Any:
    """moto composes each JSONata field into one closed expression (its bindings declared
    inside); moto evaluates it on a JVM it does not ship, the oracle with jsonata-python."""
    try:
        return jsonata.Jsonata(expression).evaluate(None)
    except Exception as exc:
        raise moto_jsonata.JSONataException("UNKNOWN", str(exc)) from None


class AslOracle:
    """Creates state machines and runs executions in moto; use inside ``oracle()``."""

    def __init__(self) -> None:
        self.client = boto3.client("stepfunctions", region_name=REGION)
        self._machines: dict[str, str] = {}

    def start(self, asl: Mapping[str, Any], data: Any, name: str) -> str:
        """Create machine ``name`` (once) and start an execution; returns the execution ARN."""
        arn = self._machines.get(name)
        if arn is None:
            created = self.client.create_state_machine(
                name=name, definition=json.dumps(asl), roleArn=ROLE
            )
            arn = self._machines[name] = created["stateMachineArn"]
        started = self.client.start_execution(
            stateMachineArn=arn, name=f"{name}-run-{time.monotonic_ns()}", input=json.dumps(data)
        )
        return str(started["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 60.0) -> Outcome:
        """Poll an execution until it is no longer running."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.client.describe_execution(executionArn=execution_arn)
            status = described["status"]
            if status == "SUCCEEDED":
                # moto's describe_execution response passes a str output through without
                # JSON-encoding it; read the execution's own value instead
                execution = _backend().describe_execution(execution_arn)
                return Outcome("SUCCEEDED", output=copy.deepcopy(execution.output))
            if status != "RUNNING":
                return Outcome(status, error=described.get("error"), cause=described.get("cause"))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still running after {timeout}s")
            time.sleep(0.01)

    def run(self, asl: Mapping[str, Any], data: Any, name: str) -> Outcome:
        return self.wait(self.start(asl, data, name))

    def run_many(self, runs: Sequence[tuple[str, Mapping[str, Any], Any]]) -> dict[str, Outcome]:
        """Start every ``(name, asl, input)`` at once (moto runs each in a thread), then wait."""
        arns = {name: self.start(asl, data, name) for name, asl, data in runs}
        return {name: self.wait(arn) for name, arn in arns.items()}


@contextmanager
def oracle(stubs: Mapping[str, Callable[[Any], Any]]) -> Iterator[AslOracle]:
    """moto with state machine execution on and Lambda calls served by ``stubs``."""
    quiet = logging.getLogger("moto.stepfunctions")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # moto logs every caught error with a state dump
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),  # type: ignore[arg-type]
        mock.patch.object(lambda_eval_utils, "_invoke_lambda_function", _invoker(stubs)),
        mock.patch.object(moto_jsonata, "_eval_jsonata", _eval_jsonata),
    ):
        try:
            yield AslOracle()
        finally:
            quiet.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    from pathlib import Path

    from tests.stepfunctions import diff_stubs
    from tests.stepfunctions.diff_cases import CASES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write diff_expected.json")
    parser.add_argument("cases", nargs="*", help="case ids (default: all)")
    args = parser.parse_args(argv)
    chosen = [c for c in CASES if not args.cases or c.id in args.cases]
    with oracle(diff_stubs.STUBS) as o:
        outcomes = o.run_many([(c.id, c.asl, c.input) for c in chosen])
    result = {case_id: outcome.to_json() for case_id, outcome in outcomes.items()}
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if args.record:
        Path(__file__).with_name("diff_expected.json").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
