"""One provider registry: every URI scheme the DSL accepts (nexus_temporal.dsl.targets) has its
provider module in activities.invoke.PROVIDERS, implementing the Provider protocol, a place in
the docs and a test file; the worker's start-up check knows every configurable one."""

from __future__ import annotations

import importlib
from pathlib import Path

from activities.invoke import PROVIDERS
from nexus_temporal.dsl.targets import SCHEMES
from workers.main import CLOUD_SCHEMES

ROOT = Path(__file__).resolve().parents[2]
#: Schemes served by another worker's activity type, not by a provider of this one.
NO_PROVIDER = {"activity"}
#: Providers without worker configuration, tested with the interpreter's task tests.
BUILT_IN = {"python": "tests/interpreters/test_task.py", "http": "tests/interpreters/test_task.py"}


def test_every_scheme_has_a_provider_and_every_provider_a_scheme() -> None:
    assert set(SCHEMES) - NO_PROVIDER == set(PROVIDERS)


def test_every_provider_implements_the_protocol() -> None:
    for scheme, (module, cls) in PROVIDERS.items():
        provider = getattr(importlib.import_module(module), cls)
        for method in ("problem", "target_key", "call"):
            assert callable(getattr(provider, method, None)), (scheme, method)


def test_the_start_up_check_knows_every_configurable_provider() -> None:
    assert set(CLOUD_SCHEMES) == set(PROVIDERS) - {"python", "http", "https"}


def test_every_provider_is_documented_and_tested() -> None:
    providers_md = (ROOT / "docs/providers.md").read_text()
    dsl_md = (ROOT / "docs/dsl.md").read_text()
    for scheme, (module, _) in PROVIDERS.items():
        base = "http" if scheme == "https" else scheme
        if base in BUILT_IN:
            assert f"`{base}" in dsl_md, scheme
            test = ROOT / BUILT_IN[base]
        else:
            assert f"| `{scheme}:` |" in providers_md, scheme
            test = ROOT / "tests/activities" / f"test_{module.rsplit('.', 1)[1]}.py"
        assert test.exists(), (scheme, test)
