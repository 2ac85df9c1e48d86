"""Fallback functions: tried in order when the primary fails for good or its breaker is open;
the routing rests on the typed errors in history and the result names the serving function."""

from __future__ import annotations

import json
import time

from temporalio.testing import WorkflowEnvironment

from activities.config import ProvidersConfig
from activities.emulators.aws_lambda import LambdaEmulator
from activities.emulators.gcp import GcpFunctionsEmulator
from tests.helpers.run import execute, nexus_worker, start

YAML = """
name: fallback-flow
functions:
  primary:
    uri: aws-lambda:echo
    circuit_breaker: {window_size: 2, minimum_calls: 2, failure_rate: 50, open_duration: 60s}
  second:
    uri: aws-lambda:echo-b
    circuit_breaker: {enabled: false}
  third: gcp-function:projects/nexus-test/locations/local/functions/echo
states:
  - name: Quote
    action: primary
    fallback: [second, third]
    timeout: 5s
    retry: {max_attempts: 2, initial_interval: 10ms}
    output: '{"served_by": served_by, "echo": result.echo, "failed": failed.function}'
"""


def both(aws: ProvidersConfig, gcp: ProvidersConfig) -> ProvidersConfig:
    return ProvidersConfig(aws=aws.aws, gcp=gcp.gcp)


async def test_fallback_serves_while_the_primary_is_down(
    env: WorkflowEnvironment,
    aws: ProvidersConfig,
    gcp: ProvidersConfig,
    lambda_emulator: LambdaEmulator,
    gcp_emulator: GcpFunctionsEmulator,
) -> None:
    lambda_emulator.faults.set("*", down=True)  # the whole Lambda region is out
    async with nexus_worker(env.client, YAML, providers=both(aws, gcp)) as w:
        first = await execute(env.client, w, "fallback-flow", {"n": 1})
        # The primary's breaker is now open (2 of 2 failed): it is not called again and the
        # workflow does not wait out the 60s open duration; 'second' still fails for good.
        started = time.monotonic()
        handle = await start(env.client, w, "fallback-flow", {"n": 2})
        second = await handle.result()
        elapsed = time.monotonic() - started
    assert first["Quote"] == {
        "served_by": "third",
        "echo": {"n": 1},
        "failed": ["primary", "second"],
    }
    assert second["Quote"]["served_by"] == "third"
    assert lambda_emulator.faults.stats("echo").requests == 2  # only the first run's attempts
    assert lambda_emulator.faults.stats("echo-b").requests == 4
    assert elapsed < 10
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    assert "CircuitOpen" in history  # the routing decision is recorded in history


async def test_primary_serves_when_healthy(
    env: WorkflowEnvironment,
    aws: ProvidersConfig,
    gcp: ProvidersConfig,
    lambda_emulator: LambdaEmulator,
    gcp_emulator: GcpFunctionsEmulator,
) -> None:
    async with nexus_worker(env.client, YAML, providers=both(aws, gcp)) as w:
        result = await execute(env.client, w, "fallback-flow", {"n": 3})
    assert result["Quote"] == {"served_by": "primary", "echo": {"n": 3}}
    assert gcp_emulator.faults.stats("echo").requests == 0


async def test_all_failing_raises_the_last_error_listing_every_failure(
    env: WorkflowEnvironment,
    aws: ProvidersConfig,
    gcp: ProvidersConfig,
    lambda_emulator: LambdaEmulator,
    gcp_emulator: GcpFunctionsEmulator,
) -> None:
    lambda_emulator.faults.set("*", down=True)
    gcp_emulator.faults.set("*", down=True)
    yaml = YAML.replace("    output:", "    catch: [{errors: ['*'], next: Down}]\n    output:")
    yaml += "  - name: Down\n    type: succeed\n"
    async with nexus_worker(env.client, yaml, providers=both(aws, gcp)) as w:
        result = await execute(env.client, w, "fallback-flow", {"n": 4})
    error = result["error"]
    assert error["type"] == "HttpError"
    assert [f["function"] for f in error["details"]["failed"]] == ["primary", "second", "third"]
