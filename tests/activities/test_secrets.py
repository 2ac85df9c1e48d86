"""Credentials never reach workflow history, logs or errors: a run calling all three clouds
(fake AWS secret key, a function key from a file, Google ID tokens) is scanned."""

from __future__ import annotations

import json
import logging

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.config import ProvidersConfig
from activities.emulators.aws_lambda import LambdaEmulator
from activities.emulators.azure import AzureFunctionsEmulator
from activities.emulators.gcp import GcpFunctionsEmulator
from tests.activities.conftest import FAKE_AWS_SECRET, FAKE_FUNCTION_KEY
from tests.helpers.run import nexus_worker, start

YAML = """
name: secrets-flow
functions:
  aws: aws-lambda:echo
  azure: azure-function:payments/echo/t
  azure-crash: azure-function:payments/crash
  gcp: gcp-function:projects/nexus-test/locations/local/functions/echo
states:
  - name: Aws
    action: aws
    next: Azure
  - name: Azure
    action: azure
    next: Gcp
  - name: Gcp
    action: gcp
    next: Crash
  - name: Crash
    action: azure-crash
    retry: {max_attempts: 2, initial_interval: 10ms}
    catch: [{errors: ["*"], next: Done}]
  - name: Done
    type: succeed
"""


async def test_no_credential_in_history_logs_or_errors(
    env: WorkflowEnvironment,
    aws: ProvidersConfig,
    azure: ProvidersConfig,
    gcp: ProvidersConfig,
    lambda_emulator: LambdaEmulator,
    azure_emulator: AzureFunctionsEmulator,
    gcp_emulator: GcpFunctionsEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    providers = ProvidersConfig(aws=aws.aws, azure=azure.azure, gcp=gcp.gcp)
    with caplog.at_level(logging.DEBUG):
        async with nexus_worker(env.client, YAML, providers=providers) as w:
            handle = await start(env.client, w, "secrets-flow", {"x": 1})
            result = await handle.result()
    assert result["Gcp"]["key"].endswith("/Gcp/1") and result["error"]["type"] == "HttpError"
    assert gcp_emulator.tokens_issued >= 1
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    logs = caplog.text
    for secret in (FAKE_AWS_SECRET, FAKE_FUNCTION_KEY, "Bearer ", "eyJhbGciOi", "private_key"):
        assert secret not in history, secret
        assert secret not in logs, secret
