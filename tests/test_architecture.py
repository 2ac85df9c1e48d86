"""The shape of the tree (docs/architecture.md): workflow code loads no provider SDK, no module
grows past 600 lines, and every exception nexus raises has the one root."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

from nexus_temporal.errors import NexusTemporalError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nexus_temporal", "interpreters", "activities", "workers", "policies")
PROVIDER_ROOTS = ("activities", "boto3", "botocore", "httpx", "azure", "google")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {m for m in json.loads(out.stdout) if m.split(".")[0] in PROVIDER_ROOTS}


def test_workflow_code_loads_no_provider_sdk() -> None:
    """Only what the Temporal SDK itself loads (its protobuf lives under ``google``)."""
    baseline = _loaded_after(
        "import temporalio.workflow, temporalio.activity, temporalio.client, "
        "temporalio.exceptions, temporalio.common"
    )
    loaded = _loaded_after("import interpreters.workflow")
    assert loaded - baseline == set()
    assert not {m for m in loaded if m.split(".")[0] != "google"}
    assert not {m for m in loaded if m.startswith(("google.auth", "google.cloud.functions"))}


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 600
    }
    assert long == {}


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            names.append(info.name)
    return names


def test_every_public_exception_has_the_one_root() -> None:
    strays = []
    for name in _modules():
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attr.startswith("_")
                and not issubclass(value, NexusTemporalError)
            ):
                strays.append(f"{name}.{attr}")
    assert strays == []
