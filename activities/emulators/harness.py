"""Start the emulators an example (or a benchmark) declares, and the worker settings for them.

The declaration is the ``emulators`` key of an ``example.json`` (or any mapping)::

    {"aws-lambda": {"region": "us-east-1", "functions": {"NAME": "module:handler"},
                    "faults": {"NAME": {...Faults fields}}},
     "azure-function": {"apps": {"APP": "module:function_app"}, "faults": {...}},
     "gcp-function": {"project": "P", "location": "L",
                      "functions": {"NAME": "source.py:target"}, "faults": {...}}}

Each cloud gets its emulator on a free loopback port; :func:`start_emulators` yields the
:class:`ProvidersConfig` that points a worker at them, with throwaway credentials only: unsigned
Lambda requests, a random function key in a temporary file, and a fresh service-account key
whose token endpoint is the GCP emulator.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities.config import (
    AwsSettings,
    AzureAppSettings,
    AzureSettings,
    GcpSettings,
    ProvidersConfig,
)
from activities.emulators.base import Emulator
from activities.emulators.faults import Faults


@dataclass
class RunningEmulators:
    """What :func:`start_emulators` started: the worker settings and each emulator by cloud
    (Azure: one per app)."""

    providers: ProvidersConfig
    emulators: dict[str, Emulator] = field(default_factory=dict)

    def describe(self) -> list[str]:
        return [f"{name}: {emulator.url}" for name, emulator in self.emulators.items()]


def _faults(emulator: Emulator, spec: Mapping[str, Any]) -> None:
    for function, faults in (spec.get("faults") or {}).items():
        emulator.faults.set(function, Faults.from_mapping(faults))


@contextmanager
def start_emulators(spec: Mapping[str, Any], base: Path = Path(".")) -> Iterator[RunningEmulators]:
    """Start what ``spec`` declares (paths relative to ``base``); stop them on exit."""
    unknown = set(spec) - {"aws-lambda", "azure-function", "gcp-function"}
    if unknown:
        raise ValueError(f"unknown emulator(s) {sorted(unknown)}")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="nexus-emulators-")))
        running = RunningEmulators(ProvidersConfig())
        aws = azure = gcp = None
        if "aws-lambda" in spec:
            from activities.emulators.aws_lambda import LambdaEmulator

            conf = spec["aws-lambda"]
            region = conf.get("region", "us-east-1")
            lam = LambdaEmulator(conf["functions"], region=region)
            stack.enter_context(lam)
            _faults(lam, conf)
            running.emulators["aws-lambda"] = lam
            aws = AwsSettings(region=region, endpoint_url=lam.url, unsigned=True, read_timeout=60)
        if "azure-function" in spec:
            from activities.emulators.azure import AzureFunctionsEmulator

            conf = spec["azure-function"]
            key = secrets.token_urlsafe(24)
            key_file = tmp / "azure-function-key"
            key_file.write_text(key)
            apps: dict[str, AzureAppSettings] = {}
            for app, ref in conf["apps"].items():
                host = AzureFunctionsEmulator(ref, keys=[key])
                stack.enter_context(host)
                _faults(host, conf)
                running.emulators[f"azure-function:{app}"] = host
                apps[app] = AzureAppSettings(endpoint_url=host.url)
            azure = AzureSettings(auth="key", key_file=str(key_file), key_env=None, apps=apps)
        if "gcp-function" in spec:
            from activities.emulators.gcp import GcpFunctionsEmulator, write_service_account

            conf = spec["gcp-function"]
            functions = {}
            for name, ref in conf["functions"].items():
                source, _, target = str(ref).rpartition(":")
                functions[name] = (str((base / source).resolve()), target)
            g = GcpFunctionsEmulator(
                functions,
                project=conf.get("project", "local-project"),
                location=conf.get("location", "local"),
            )
            stack.enter_context(g)
            _faults(g, conf)
            running.emulators["gcp-function"] = g
            key_path = write_service_account(tmp / "gcp-service-account.json", f"{g.url}/token")
            gcp = GcpSettings(credentials_file=str(key_path), functions_endpoint=g.url)
        running.providers = ProvidersConfig(aws=aws, azure=azure, gcp=gcp)
        yield running


@contextmanager
def example_emulators(folder: Path) -> Iterator[RunningEmulators | None]:
    """The emulators ``folder/example.json`` declares (None if it declares none)."""
    spec_file = folder / "example.json"
    spec = json.loads(spec_file.read_text()).get("emulators") if spec_file.exists() else None
    if not spec:
        yield None
        return
    with start_emulators(spec, folder) as running:
        yield running


def merge_specs(spec_files: Iterable[Path]) -> dict[str, tuple[dict[str, Any], list[Path]]]:
    """The ``emulators`` the given ``example.json`` files declare, merged by cloud (GCP sources
    made absolute): ``{cloud: (spec, the files declaring it)}``. Raises ``ValueError`` naming
    a file that cannot be read."""
    merged: dict[str, tuple[dict[str, Any], list[Path]]] = {}
    for spec_file in spec_files:
        try:
            spec = json.loads(spec_file.read_text()).get("emulators") or {}
        except (OSError, ValueError, AttributeError) as exc:
            raise ValueError(f"{spec_file}: cannot read its 'emulators': {exc}") from None
        for cloud, conf in spec.items():
            into, files = merged.setdefault(cloud, ({}, []))
            files.append(spec_file)
            for key, value in (conf or {}).items():
                if key == "functions" and cloud == "gcp-function":
                    value = {
                        name: str((spec_file.parent / ref.rpartition(":")[0]).resolve())
                        + ":"
                        + ref.rpartition(":")[2]
                        for name, ref in value.items()
                    }
                if isinstance(value, dict):
                    into.setdefault(key, {}).update(value)
                else:
                    into[key] = value
    return merged


def merged_spec(root: Path) -> dict[str, Any]:
    """The ``emulators`` of every ``example.json`` under ``root``, merged into one spec, so one
    worker serving all examples gets one set."""
    return {
        cloud: spec for cloud, (spec, _) in merge_specs(sorted(root.rglob("example.json"))).items()
    }


@contextmanager
def all_example_emulators(root: Path) -> Iterator[RunningEmulators | None]:
    """The emulators every example under ``root`` declares (None if none does)."""
    spec = merged_spec(root)
    if not spec:
        yield None
        return
    with start_emulators(spec, root) as running:
        yield running


def providers_mapping(providers: ProvidersConfig) -> dict[str, Any]:
    """``providers`` as a providers file mapping (unconfigured providers left out; unset
    settings written as null, so a default such as ``key_env`` stays switched off)."""
    out: dict[str, Any] = {}
    for name in ("aws", "azure", "gcp"):
        section = getattr(providers, name)
        if section is not None:
            data = dataclasses.asdict(section)
            if "apps" in data:
                data["apps"] = {
                    app: {k: v for k, v in conf.items() if v is not None}
                    for app, conf in data["apps"].items()
                }
            out[name] = data
    return out
