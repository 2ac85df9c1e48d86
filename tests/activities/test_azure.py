"""azure-function: the azure-functions host shim (real func.HttpRequest/HttpResponse), called
over HTTP with a function key or an Azure AD token, on the real dev server."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.azure import AzureProvider, parse_uri
from activities.config import AzureSettings, ProvidersConfig
from activities.emulators.azure import AzureFunctionsEmulator
from activities.invoke import InvokeRequest
from tests.helpers.run import execute, nexus_worker


def flow(route: str, retry: str = "{max_attempts: 3, initial_interval: 10ms}") -> str:
    return f"""
    name: azure-flow
    functions:
      fn: azure-function:payments/{route}
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


async def test_success_with_function_key_and_route_params(
    env: WorkflowEnvironment, azure: ProvidersConfig, azure_emulator: AzureFunctionsEmulator
) -> None:
    azure_emulator.faults.set("azure_echo", fail_next=1)
    async with nexus_worker(env.client, flow("echo/eu"), providers=azure) as w:
        result = await execute(env.client, w, "azure-flow", {"x": 1})
    call = result["Call"]
    assert call == {"echo": {"x": 1}, "tag": "eu", "key": call["key"]}
    assert call["key"].endswith("/Call/1")
    assert azure_emulator.faults.stats("azure_echo").keys == [call["key"]] * 2


async def test_function_error_is_a_retried_http_error(
    env: WorkflowEnvironment, azure: ProvidersConfig, azure_emulator: AzureFunctionsEmulator
) -> None:
    yaml = flow("crash", retry="{max_attempts: 2, initial_interval: 10ms}")
    async with nexus_worker(env.client, yaml, providers=azure) as w:
        result = await execute(env.client, w, "azure-flow", {})
    assert result["error"]["type"] == "HttpError"
    assert result["error"]["details"] == {"status": 500}
    assert azure_emulator.faults.stats("azure_crash").requests == 2


async def test_throttling_then_success_waits_retry_after(
    env: WorkflowEnvironment, azure: ProvidersConfig, azure_emulator: AzureFunctionsEmulator
) -> None:
    azure_emulator.faults.set("azure_echo", throttle_next=1, retry_after=1.5)
    async with nexus_worker(env.client, flow("echo/x"), providers=azure) as w:
        started = time.monotonic()
        result = await execute(env.client, w, "azure-flow", {"x": 3})
    assert result["Call"]["echo"] == {"x": 3}
    assert time.monotonic() - started >= 1.4


async def test_timeout(
    env: WorkflowEnvironment, azure: ProvidersConfig, azure_emulator: AzureFunctionsEmulator
) -> None:
    yaml = flow("slow", retry="1").replace("timeout: 5s", "timeout: 500ms")
    async with nexus_worker(env.client, yaml, providers=azure) as w:
        result = await execute(env.client, w, "azure-flow", {"seconds": 2})
    assert result["error"]["type"] == "Timeout"


async def test_client_error_is_not_retried(
    env: WorkflowEnvironment, azure: ProvidersConfig, azure_emulator: AzureFunctionsEmulator
) -> None:
    yaml = flow("reject", retry="{max_attempts: 5, initial_interval: 3s}")
    async with nexus_worker(env.client, yaml, providers=azure) as w:
        result = await execute(env.client, w, "azure-flow", {})
    assert result["error"]["type"] == "HttpError"
    assert result["error"]["details"]["status"] == 422
    assert azure_emulator.faults.stats("azure_reject").requests == 1


async def test_wrong_key_is_a_non_retried_401(
    env: WorkflowEnvironment, azure_emulator: AzureFunctionsEmulator, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text("not-the-key")
    providers = ProvidersConfig(
        azure=AzureSettings(
            auth="key", key_file=str(tmp_path / "key"), endpoint_url=azure_emulator.url
        )
    )
    async with nexus_worker(env.client, flow("echo/x"), providers=providers) as w:
        result = await execute(env.client, w, "azure-flow", {})
    assert result["error"]["details"]["status"] == 401


@dataclass
class _Token:
    token: str
    expires_on: int


class _FakeCredential:
    """Stands in for DefaultAzureCredential (no Azure AD on loopback)."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def get_token(self, *scopes: str, **_: Any) -> _Token:
        self.scopes.extend(scopes)
        return _Token("fake-aad-token", int(time.time()) + 3600)


async def test_aad_bearer_token_for_the_scope(azure_emulator: AzureFunctionsEmulator) -> None:
    azure_emulator.tokens = {"fake-aad-token"}
    credential = _FakeCredential()
    settings = AzureSettings(auth="aad", endpoint_url=azure_emulator.url)
    provider = AzureProvider(ProvidersConfig(azure=settings), credential=credential)
    result = await provider.call(
        InvokeRequest("fn", "azure-function:payments/echo/t", {"a": 1}, "wf/S/1")
    )
    assert result == {"echo": {"a": 1}, "tag": "t", "key": "wf/S/1"}
    assert credential.scopes == ["api://payments/.default"]


def test_uris_and_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        parse_uri("azure-function:app1/api2/x").url == "https://app1.azurewebsites.net/api/api2/x"
    )
    full = parse_uri("azure-function:https://app1.azurewebsites.net/api/charge")
    assert (full.app, full.path) == ("app1", "api/charge")
    monkeypatch.delenv("NEXUS_AZURE_FUNCTION_KEY", raising=False)
    provider = AzureProvider(ProvidersConfig(azure=AzureSettings(auth="key")))
    problem = provider.problem("azure-function:app1/charge", {})
    assert problem and "NEXUS_AZURE_FUNCTION_KEY" in problem
    monkeypatch.setenv("NEXUS_AZURE_FUNCTION_KEY", "k")
    assert provider.problem("azure-function:app1/charge", {}) is None
    assert "not configured" in str(
        AzureProvider(ProvidersConfig()).problem("azure-function:a/b", {})
    )
