"""aws-lambda: real boto3 against the loopback Lambda emulator, on the real dev server."""

from __future__ import annotations

import time

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.aws_lambda import classify_exception, parse_uri
from activities.config import AwsSettings, ProvidersConfig
from activities.emulators.aws_lambda import LambdaEmulator
from tests.helpers.run import execute, nexus_worker


def flow(
    uri: str, retry: str = "{max_attempts: 3, initial_interval: 10ms}", extra: str = ""
) -> str:
    return f"""
    name: lambda-flow
    functions:
      fn:
        uri: {uri}
        {extra}
    states:
      - name: Call
        action: fn
        timeout: 5s
        retry: {retry}
        catch:
          - errors: ["*"]
            next: Failed
      - name: Failed
        type: succeed
    """


async def test_success_carries_a_stable_idempotency_key(
    env: WorkflowEnvironment, aws: ProvidersConfig, lambda_emulator: LambdaEmulator
) -> None:
    lambda_emulator.faults.set("echo", fail_next=1)  # one failed attempt, then the retry
    async with nexus_worker(env.client, flow("aws-lambda:echo"), providers=aws) as w:
        result = await execute(env.client, w, "lambda-flow", {"x": 1})
    call = result["Call"]
    assert call["echo"] == {"x": 1} and call["fn"] == "echo"
    assert call["key"].endswith("/Call/1")
    stats = lambda_emulator.faults.stats("echo")
    assert stats.requests == 2 and stats.keys == [call["key"], call["key"]]


async def test_arn_and_qualifier_options(
    env: WorkflowEnvironment, aws: ProvidersConfig, lambda_emulator: LambdaEmulator
) -> None:
    arn = "aws-lambda:arn:aws:lambda:eu-west-1:123456789012:function:echo"
    yaml = flow(arn, extra="qualifier: live")
    async with nexus_worker(env.client, yaml, providers=aws) as w:
        result = await execute(env.client, w, "lambda-flow", {"x": 2})
    assert result["Call"]["echo"] == {"x": 2}


async def test_function_error_is_typed_by_its_error_type(
    env: WorkflowEnvironment, aws: ProvidersConfig, lambda_emulator: LambdaEmulator
) -> None:
    yaml = flow("aws-lambda:declined", retry="{max_attempts: 2, initial_interval: 10ms}")
    async with nexus_worker(env.client, yaml, providers=aws) as w:
        result = await execute(env.client, w, "lambda-flow", {"card": "4242"})
    error = result["error"]
    assert error["type"] == "CardDeclined"
    assert error["details"]["function_error"] == "Unhandled"
    assert "card 4242 declined" in error["details"]["errorMessage"]
    assert lambda_emulator.faults.stats("declined").requests == 2  # a function error is retried


async def test_throttling_then_success_waits_retry_after(
    env: WorkflowEnvironment, aws: ProvidersConfig, lambda_emulator: LambdaEmulator
) -> None:
    lambda_emulator.faults.set("echo", throttle_next=1, retry_after=1.5)
    async with nexus_worker(env.client, flow("aws-lambda:echo"), providers=aws) as w:
        started = time.monotonic()
        result = await execute(env.client, w, "lambda-flow", {"x": 3})
        elapsed = time.monotonic() - started
    assert result["Call"]["echo"] == {"x": 3}
    assert elapsed >= 1.4  # the server's Retry-After, not the 10ms retry interval
    stats = lambda_emulator.faults.stats("echo")
    assert (stats.requests, stats.throttled) == (2, 1)  # botocore did not retry on its own


async def test_timeout(
    env: WorkflowEnvironment, aws: ProvidersConfig, lambda_emulator: LambdaEmulator
) -> None:
    yaml = flow("aws-lambda:slow", retry="1").replace("timeout: 5s", "timeout: 500ms")
    async with nexus_worker(env.client, yaml, providers=aws) as w:
        result = await execute(env.client, w, "lambda-flow", {"seconds": 2})
    assert result["error"]["type"] == "Timeout"


async def test_unknown_function_is_not_retried(
    env: WorkflowEnvironment, aws: ProvidersConfig, lambda_emulator: LambdaEmulator
) -> None:
    yaml = flow("aws-lambda:missing", retry="{max_attempts: 5, initial_interval: 3s}")
    async with nexus_worker(env.client, yaml, providers=aws) as w:
        started = time.monotonic()
        result = await execute(env.client, w, "lambda-flow", {})
    assert result["error"]["type"] == "FunctionNotFound"
    assert time.monotonic() - started < 3  # no second attempt


async def test_worker_refuses_unconfigured_provider_naming_the_function(
    env: WorkflowEnvironment,
) -> None:
    from nexus_temporal.dsl.errors import DefinitionError

    with pytest.raises(DefinitionError) as info:
        async with nexus_worker(env.client, flow("aws-lambda:echo")):
            pass
    issue = info.value.issues[0]
    assert issue.code == "provider-not-configured"
    assert "function 'fn'" in issue.message and "aws-lambda provider" in issue.message
    no_region = ProvidersConfig(aws=AwsSettings())
    with pytest.raises(DefinitionError, match="no AWS region"):
        async with nexus_worker(env.client, flow("aws-lambda:echo"), providers=no_region):
            pass


def test_parse_uri() -> None:
    t = parse_uri("aws-lambda:arn:aws:lambda:eu-west-1:123456789012:function:charge:prod")
    assert (t.name, t.region, t.qualifier) == ("charge", "eu-west-1", "prod")
    assert t.arn == "arn:aws:lambda:eu-west-1:123456789012:function:charge"
    assert parse_uri("aws-lambda:charge:7").qualifier == "7"
    with pytest.raises(ValueError):
        parse_uri("aws-lambda:no spaces")


@pytest.mark.parametrize(
    ("code", "status", "kind", "retryable"),
    [
        ("TooManyRequestsException", 429, "Throttled", True),
        ("ResourceNotFoundException", 404, "FunctionNotFound", False),
        ("InvalidRequestContentException", 400, "InvalidRequest", False),
        ("InvalidParameterValueException", 400, "InvalidRequest", False),
        ("RequestTooLargeException", 413, "InvalidRequest", False),
        ("AccessDeniedException", 403, "AccessDenied", False),
        ("ResourceConflictException", 409, "ServiceError", True),
        ("ServiceException", 500, "ServiceError", True),
    ],
)
def test_error_classification(code: str, status: int, kind: str, retryable: bool) -> None:
    from botocore.exceptions import ClientError

    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {"retry-after": "7"}},
    }
    error = classify_exception("fn", ClientError(response, "Invoke"))  # type: ignore[arg-type]
    assert isinstance(error, ApplicationError)
    assert (error.type, error.non_retryable) == (kind, not retryable)
    if kind == "Throttled":
        assert error.next_retry_delay is not None and error.next_retry_delay.total_seconds() == 7


async def test_failure_without_catch_names_the_type(
    env: WorkflowEnvironment, aws: ProvidersConfig, lambda_emulator: LambdaEmulator
) -> None:
    yaml = """
    name: lambda-uncaught
    states:
      - name: Call
        action: aws-lambda:declined
        retry: 1
    """
    async with nexus_worker(env.client, yaml, providers=aws) as w:
        with pytest.raises(WorkflowFailureError) as info:
            await execute(env.client, w, "lambda-uncaught", {"card": "1"})
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "CardDeclined"
