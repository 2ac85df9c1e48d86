"""gcp-function: functions-framework serving real HTTP functions; the endpoint is resolved with
google-cloud-functions and called with a google-auth ID token, on the real dev server."""

from __future__ import annotations

import time
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from activities.config import GcpSettings, ProvidersConfig
from activities.emulators.gcp import GcpFunctionsEmulator, jwt_claims
from activities.gcp import GcpProvider
from activities.invoke import InvokeRequest
from tests.helpers.run import execute, nexus_worker


def flow(name: str, retry: str = "{max_attempts: 3, initial_interval: 10ms}") -> str:
    return f"""
    name: gcp-flow
    functions:
      fn: gcp-function:projects/nexus-test/locations/local/functions/{name}
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


async def test_success_with_id_token_and_idempotency_key(
    env: WorkflowEnvironment, gcp: ProvidersConfig, gcp_emulator: GcpFunctionsEmulator
) -> None:
    gcp_emulator.faults.set("echo", fail_next=1)
    async with nexus_worker(env.client, flow("echo"), providers=gcp) as w:
        result = await execute(env.client, w, "gcp-flow", {"x": 1})
    call = result["Call"]
    assert call["echo"] == {"x": 1} and call["key"].endswith("/Call/1")
    assert gcp_emulator.faults.stats("echo").keys == [call["key"]] * 2
    assert gcp_emulator.tokens_issued == 1  # the ID token is cached across attempts


async def test_function_error_is_a_retried_http_error(
    env: WorkflowEnvironment, gcp: ProvidersConfig, gcp_emulator: GcpFunctionsEmulator
) -> None:
    yaml = flow("crash", retry="{max_attempts: 2, initial_interval: 10ms}")
    async with nexus_worker(env.client, yaml, providers=gcp) as w:
        result = await execute(env.client, w, "gcp-flow", {})
    assert result["error"]["type"] == "HttpError"
    assert gcp_emulator.faults.stats("crash").requests == 2


async def test_throttling_then_success_waits_retry_after(
    env: WorkflowEnvironment, gcp: ProvidersConfig, gcp_emulator: GcpFunctionsEmulator
) -> None:
    gcp_emulator.faults.set("echo", throttle_next=1, retry_after=1.5)
    async with nexus_worker(env.client, flow("echo"), providers=gcp) as w:
        started = time.monotonic()
        result = await execute(env.client, w, "gcp-flow", {"x": 3})
    assert result["Call"]["echo"] == {"x": 3}
    assert time.monotonic() - started >= 1.4


async def test_timeout(
    env: WorkflowEnvironment, gcp: ProvidersConfig, gcp_emulator: GcpFunctionsEmulator
) -> None:
    yaml = flow("slow", retry="1").replace("timeout: 5s", "timeout: 500ms")
    async with nexus_worker(env.client, yaml, providers=gcp) as w:
        result = await execute(env.client, w, "gcp-flow", {"seconds": 2})
    assert result["error"]["type"] == "Timeout"


async def test_client_error_and_unknown_function_are_not_retried(
    env: WorkflowEnvironment, gcp: ProvidersConfig, gcp_emulator: GcpFunctionsEmulator
) -> None:
    retry = "{max_attempts: 5, initial_interval: 3s}"
    async with nexus_worker(env.client, flow("reject", retry), providers=gcp) as w:
        started = time.monotonic()
        rejected = await execute(env.client, w, "gcp-flow", {})
    async with nexus_worker(env.client, flow("nope", retry), providers=gcp) as w:
        missing = await execute(env.client, w, "gcp-flow", {})
    assert time.monotonic() - started < 3
    assert rejected["error"]["type"] == "HttpError"
    assert rejected["error"]["details"]["status"] == 422
    assert missing["error"]["type"] == "FunctionNotFound"


async def test_endpoint_resolved_once_and_token_audience(
    gcp: ProvidersConfig, gcp_emulator: GcpFunctionsEmulator
) -> None:
    provider = GcpProvider(gcp)
    uri = f"gcp-function:{gcp_emulator.resource('echo')}"
    for _ in range(2):
        await provider.call(InvokeRequest("fn", uri, {}, "k"))
    url = gcp_emulator.function_url("echo")
    assert provider._urls == {gcp_emulator.resource("echo"): url}
    token = provider._id_token("fn", url)
    assert jwt_claims(token)["aud"] == url


def test_configuration_problems(tmp_path: Path) -> None:
    uri = "gcp-function:projects/p1/locations/l/functions/f"
    assert "not configured" in str(GcpProvider(ProvidersConfig()).problem(uri, {}))
    missing = GcpSettings(credentials_file=str(tmp_path / "nope.json"))
    assert "does not exist" in str(GcpProvider(ProvidersConfig(gcp=missing)).problem(uri, {}))
    assert GcpProvider(ProvidersConfig(gcp=GcpSettings())).problem(uri, {}) is None
