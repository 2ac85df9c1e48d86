"""The emulators' harness, control endpoints and fault injection, and provider settings."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from activities.config import ProvidersConfig
from activities.emulators.faults import Faults, FaultState
from activities.emulators.harness import example_emulators, providers_mapping

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multi_cloud"


def test_example_emulators_and_providers_file_round_trip(tmp_path: Path) -> None:
    with example_emulators(EXAMPLE) as running:
        assert running is not None
        assert set(running.emulators) == {"aws-lambda", "azure-function:tax-app", "gcp-function"}
        out = tmp_path / "providers.yaml"
        out.write_text(yaml.safe_dump(providers_mapping(running.providers)))
        loaded = ProvidersConfig.load(out, environ={})
        assert loaded == running.providers
        lam = running.emulators["aws-lambda"]
        stats = httpx.get(f"{lam.url}/_emulator/faults").json()
        assert stats["fx-rates"]["down"] is True  # declared in example.json
        httpx.post(f"{lam.url}/_emulator/faults", json={"clear": True, "function": "price"})
        assert httpx.get(f"{lam.url}/_emulator/faults").json() == {}
        key = (running.providers.azure and running.providers.azure.key_file) or ""
        assert Path(key).is_file()
    assert not Path(key).exists()  # throwaway credentials are removed


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    file = tmp_path / "p.yaml"
    file.write_text("aws: {region: eu-west-1}\ngcp: {}\n")
    env = {"NEXUS_AWS_REGION": "us-east-2", "NEXUS_AZURE_AUTH": "none", "NEXUS_GCP_TIMEOUT": "5"}
    config = ProvidersConfig.load(file, environ=env)
    assert config.aws is not None and config.aws.region == "us-east-2"
    assert config.azure is not None and config.azure.auth == "none"
    assert config.gcp is not None and config.gcp.timeout == 5.0
    assert ProvidersConfig.load(None, environ={}) == ProvidersConfig()
    file.write_text("aws: {regoin: x}\n")
    with pytest.raises(ValueError, match="regoin"):
        ProvidersConfig.load(file, environ={})


def test_fault_rates_are_seeded_and_windows_apply() -> None:
    state = FaultState({"f": Faults(error_rate=0.5, throttle_rate=0.25, seed=7)})
    decisions = [state.decide("f")[0] for _ in range(200)]
    assert 70 < decisions.count("error") < 130 and 25 < decisions.count("throttle") < 75
    again = FaultState({"f": Faults(error_rate=0.5, throttle_rate=0.25, seed=7)})
    assert [again.decide("f")[0] for _ in range(200)] == decisions
    outage = FaultState({"*": Faults(outages=((0.0, 60.0),))})
    assert outage.decide("g")[0] == "outage"
    partial = FaultState({"h": Faults(partial_next=1)})
    assert partial.decide("h")[0] == "partial" and partial.stats("h").executions == 1


def test_all_examples_share_one_set_of_emulators() -> None:
    from activities.emulators.harness import all_example_emulators

    with all_example_emulators(EXAMPLE.parent) as running:
        assert running is not None and running.providers.gcp is not None
        assert "gcp-function" in running.emulators
