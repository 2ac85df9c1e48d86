"""Loopback cloud emulators (fresh per test, so breakers and faults never leak between tests)
and the worker provider settings that point at them, with fake credentials only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.config import AwsSettings, AzureSettings, GcpSettings, ProvidersConfig
from activities.emulators.aws_lambda import LambdaEmulator
from activities.emulators.azure import AzureFunctionsEmulator
from activities.emulators.gcp import GcpFunctionsEmulator, write_service_account

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
FAKE_AWS_SECRET = "fake-aws-secret-Zq9xW2"
FAKE_FUNCTION_KEY = "fake-function-key-Kp4vB7"
LAMBDAS = {
    "echo": "tests.helpers.cloud_functions:lambda_echo",
    "echo-b": "tests.helpers.cloud_functions:lambda_echo",
    "declined": "tests.helpers.cloud_functions:lambda_declined",
    "slow": "tests.helpers.cloud_functions:lambda_slow",
}


@pytest.fixture
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_AWS_SECRET)
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def lambda_emulator() -> Iterator[LambdaEmulator]:
    with LambdaEmulator(LAMBDAS, region="eu-west-1") as emulator:
        assert isinstance(emulator, LambdaEmulator)
        yield emulator


@pytest.fixture
def aws(lambda_emulator: LambdaEmulator, fake_aws_env: None) -> ProvidersConfig:
    return ProvidersConfig(
        aws=AwsSettings(region="eu-west-1", endpoint_url=lambda_emulator.url, read_timeout=10)
    )


@pytest.fixture
def azure_emulator() -> Iterator[AzureFunctionsEmulator]:
    with AzureFunctionsEmulator(
        "tests.helpers.cloud_functions:app", keys=[FAKE_FUNCTION_KEY]
    ) as emulator:
        assert isinstance(emulator, AzureFunctionsEmulator)
        yield emulator


@pytest.fixture
def azure(
    azure_emulator: AzureFunctionsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ProvidersConfig:
    key_file = tmp_path / "function-key"
    key_file.write_text(FAKE_FUNCTION_KEY + "\n")
    return ProvidersConfig(
        azure=AzureSettings(auth="key", key_file=str(key_file), endpoint_url=azure_emulator.url)
    )


@pytest.fixture
def gcp_emulator() -> Iterator[GcpFunctionsEmulator]:
    source = str(HELPERS / "gcp_functions.py")
    functions = {name: (source, name) for name in ("echo", "reject", "crash", "slow")}
    with GcpFunctionsEmulator(functions, project="nexus-test", location="local") as emulator:
        assert isinstance(emulator, GcpFunctionsEmulator)
        yield emulator


@pytest.fixture
def gcp(gcp_emulator: GcpFunctionsEmulator, tmp_path: Path) -> ProvidersConfig:
    key = write_service_account(tmp_path / "sa.json", f"{gcp_emulator.url}/token")
    return ProvidersConfig(
        gcp=GcpSettings(credentials_file=str(key), functions_endpoint=gcp_emulator.url)
    )
