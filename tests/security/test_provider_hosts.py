"""Cloud credentials go only to the hosts they belong to, over https (loopback exempt).

The attacks: a definition's ``azure-function:`` full URL naming a foreign host (the worker's
function key or AAD token would go with it), a plain-http URL, an endpoint echoing the
function key in an error body, a Cloud Functions URL resolving to a foreign host, a plain-http
Lambda endpoint for signed requests. The "foreign" server is an attacker endpoint on
127.0.0.1 (another port than the configured emulator: the worker compares origins, so it is as
foreign as any host); nothing leaves loopback.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.aws_lambda import LambdaProvider
from activities.azure import AzureProvider
from activities.config import AwsSettings, AzureAppSettings, AzureSettings, ProvidersConfig
from activities.emulators.azure import AzureFunctionsEmulator
from activities.emulators.gcp import GcpFunctionsEmulator
from activities.gcp import GcpProvider
from activities.invoke import InvokeRequest
from nexus_temporal.dsl.errors import DefinitionError
from tests.activities import conftest as clouds
from tests.activities.conftest import FAKE_FUNCTION_KEY
from tests.helpers.run import execute, nexus_worker, start
from tests.security.test_secrets import attacker_endpoint, echo_headers, failure_of

GCP_ECHO = "projects/nexus-test/locations/local/functions/echo"

# The loopback emulators and the worker settings pointing at them (fake credentials only).
azure = clouds.azure
azure_emulator = clouds.azure_emulator
gcp = clouds.gcp
gcp_emulator = clouds.gcp_emulator
fake_aws_env = clouds.fake_aws_env


def flow(uri: str) -> str:
    return f"""
name: steal
functions:
  steal: {uri}
states:
  - name: Pay
    action: steal
    retry: {{max_attempts: 2, initial_interval: 10ms}}
"""


# --- azure ---------------------------------------------------------------------------------


async def test_azure_full_url_to_a_foreign_host_gets_no_function_key(
    env: WorkflowEnvironment, azure: ProvidersConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker refuses to start with the definition; the provider refuses the call."""
    with attacker_endpoint() as evil, caplog.at_level(logging.DEBUG):
        uri = f"azure-function:{evil.url}/api/steal"
        with pytest.raises(DefinitionError) as refused:
            async with nexus_worker(env.client, flow(uri), providers=azure):
                pass
        # The call itself (a worker started before the check existed, a forged request).
        with pytest.raises(ApplicationError) as call:
            await AzureProvider(azure).call(InvokeRequest("steal", uri, {}, "wf/Pay/1", "Pay"))
    assert evil.requests == []
    assert "'steal'" in str(refused.value) and "azure endpoint_url" in str(refused.value)
    assert call.value.type == "CredentialNotAllowed" and call.value.non_retryable
    assert "127.0.0.1" in call.value.message and "apps.<app>.endpoint_url" in call.value.message
    assert FAKE_FUNCTION_KEY not in caplog.text + str(refused.value) + call.value.message


@pytest.mark.parametrize(
    ("uri", "error"),
    [
        # Looks like the app's host, is not.
        ("https://payments.azurewebsites.net.attacker.test/api/x", "CredentialNotAllowed"),
        ("https://attacker.test/api/x", "CredentialNotAllowed"),
        # The app's own host, but in clear.
        ("http://payments.azurewebsites.net/api/x", "InsecureTransport"),
    ],
)
async def test_azure_credentials_refused_before_any_request(
    uri: str, error: str, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text(FAKE_FUNCTION_KEY)
    for settings in (
        AzureSettings(auth="key", key_file=str(tmp_path / "key")),
        AzureSettings(auth="aad"),  # the token is never even requested
    ):
        provider = AzureProvider(ProvidersConfig(azure=settings), credential=object())
        problem = provider.problem(f"azure-function:{uri}", {})
        assert problem and ("https" in problem or "endpoint_url" in problem), problem
        with pytest.raises(ApplicationError) as info:
            await provider.call(InvokeRequest("f", f"azure-function:{uri}", {}, "k"))
        assert info.value.type == error and FAKE_FUNCTION_KEY not in info.value.message


async def test_azure_auth_none_may_call_any_host(env: WorkflowEnvironment) -> None:
    """No credential, nothing to steal: a full URL on another host is just an HTTP call."""
    with attacker_endpoint() as other:
        providers = ProvidersConfig(azure=AzureSettings(auth="none"))
        async with nexus_worker(
            env.client, flow(f"azure-function:{other.url}/api/hello"), providers=providers
        ) as w:
            assert await execute(env.client, w, "steal", {"n": 1}) == {"n": 1, "Pay": {}}
    (received,) = other.requests
    assert "x-functions-key" not in {k.lower() for k in received.headers}
    assert "authorization" not in {k.lower() for k in received.headers}


async def test_a_configured_app_endpoint_still_gets_its_key(
    env: WorkflowEnvironment, azure_emulator: AzureFunctionsEmulator, tmp_path: Path
) -> None:
    """A full URL on the endpoint_url the operator configured for an app is that app's: the
    key goes there (the emulator checks it), short targets too."""
    (tmp_path / "key").write_text(FAKE_FUNCTION_KEY)
    apps = {"payments": AzureAppSettings(endpoint_url=azure_emulator.url)}
    providers = ProvidersConfig(
        azure=AzureSettings(auth="key", key_file=str(tmp_path / "key"), apps=apps)
    )
    yaml = f"""
name: pay
functions:
  full: azure-function:{azure_emulator.url}/api/echo/full
  short: azure-function:payments/echo/short
states:
  - name: Full
    action: full
    next: Short
  - name: Short
    action: short
"""
    async with nexus_worker(env.client, yaml, providers=providers) as w:
        result = await execute(env.client, w, "pay", {"x": 1})
    assert result["Full"]["tag"] == "full" and result["Short"]["tag"] == "short"
    assert len(azure_emulator.faults.stats("azure_echo").keys) == 2


async def test_an_endpoint_echoing_the_function_key_does_not_reach_history(
    env: WorkflowEnvironment, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator's endpoint (a proxy, say) answers 401 with the request's headers: the
    key was legitimately sent, but history gets a scrubbed body."""
    (tmp_path / "key").write_text(FAKE_FUNCTION_KEY)
    with attacker_endpoint() as proxy, caplog.at_level(logging.DEBUG):
        proxy.reply = echo_headers(401)
        providers = ProvidersConfig(
            azure=AzureSettings(auth="key", key_file=str(tmp_path / "key"), endpoint_url=proxy.url)
        )
        async with nexus_worker(
            env.client, flow("azure-function:payments/charge"), providers=providers
        ) as w:
            handle = await start(env.client, w, "steal", {})
            message, error = await failure_of(handle)
    (received,) = proxy.requests
    assert received.headers["x-functions-key"] == FAKE_FUNCTION_KEY
    body = error.details[0]["details"]["body"]
    assert error.type == "HttpError" and '"x-functions-key": "***"' in body
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    for text in (history, message, caplog.text):
        assert FAKE_FUNCTION_KEY not in text


# --- gcp -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resolved", "error"),
    [
        ("https://fx-abc123-ew.a.run.app.attacker.test/", "CredentialNotAllowed"),
        ("https://attacker.test/fx", "CredentialNotAllowed"),
        ("http://fx-abc123-ew.a.run.app/", "InsecureTransport"),
    ],
)
async def test_gcp_id_token_only_to_function_hosts(
    gcp: ProvidersConfig, gcp_emulator: GcpFunctionsEmulator, resolved: str, error: str
) -> None:
    """Whatever URL the Functions API returns, the token goes only to a Cloud Functions / Cloud
    Run host over https (or the loopback emulator). The resolved URL is seeded into the
    provider's cache: the emulator only serves loopback URLs."""
    provider = GcpProvider(gcp)
    provider._urls[GCP_ECHO] = resolved
    with pytest.raises(ApplicationError) as info:
        await provider.call(InvokeRequest("fx", f"gcp-function:{GCP_ECHO}", {}, "k"))
    assert info.value.type == error and info.value.non_retryable
    assert gcp_emulator.tokens_issued == 0  # refused before a token was even minted


async def test_gcp_emulator_on_loopback_still_gets_its_token(
    gcp: ProvidersConfig, gcp_emulator: GcpFunctionsEmulator
) -> None:
    provider = GcpProvider(gcp)
    result = await provider.call(InvokeRequest("fx", f"gcp-function:{GCP_ECHO}", {"a": 1}, "k"))
    assert result["echo"] == {"a": 1} and gcp_emulator.tokens_issued == 1


# --- aws -----------------------------------------------------------------------------------


async def test_signed_lambda_requests_refuse_a_plain_http_remote_endpoint(
    fake_aws_env: None,
) -> None:
    providers = ProvidersConfig(
        aws=AwsSettings(region="eu-west-1", endpoint_url="http://lambda.attacker.test")
    )
    provider = LambdaProvider(providers)
    problem = provider.problem("aws-lambda:charge", {})
    assert problem and "https" in problem and "unsigned" in problem
    with pytest.raises(ApplicationError) as info:
        await provider.call(InvokeRequest("charge", "aws-lambda:charge", {}, "k"))
    assert info.value.type == "InsecureTransport" and info.value.non_retryable
    unsigned = ProvidersConfig(
        aws=AwsSettings(region="eu-west-1", endpoint_url="http://proxy.test", unsigned=True)
    )
    assert LambdaProvider(unsigned).problem("aws-lambda:charge", {}) is None


def test_lambda_target_key_without_userinfo() -> None:
    providers = ProvidersConfig(
        aws=AwsSettings(region="eu-west-1", endpoint_url="https://u:pw-Qr8@lambda.example")
    )
    key = LambdaProvider(providers).target_key(InvokeRequest("f", "aws-lambda:charge"))
    assert key == "aws-lambda:https://***@lambda.example/eu-west-1:charge:$LATEST"
