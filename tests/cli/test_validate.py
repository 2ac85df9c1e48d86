"""``nexus validate``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli.helpers import assert_lists, help_text, nexus

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_flags() -> None:
    assert_lists(help_text("validate"), "FILE", "--json")


def test_valid_and_invalid_definitions() -> None:
    ok = nexus("validate", "examples/approval")
    assert ok.returncode == 0, ok.stderr
    assert "examples/approval/workflow.yaml: ok (" in ok.stdout
    bad = nexus("validate", "--json", "tests/broken/choice_with_next.yaml")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    report = json.loads(bad.stdout)
    assert report["valid"] is False and report["issues"][0]["line"] == 8


def test_a_missing_file_is_one_located_line() -> None:
    result = nexus("validate", "no/such/file.yaml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "no/such/file.yaml: error: cannot read file: No such file or directory"
    ]


def _typo_order_saga(tmp_path: Path) -> Path:
    text = (ROOT / "examples/order_saga/workflow.yaml").read_text()
    assert "functions:reserve_stock" in text
    bad = tmp_path / "typo.yaml"
    bad.write_text(text.replace("functions:reserve_stock", "functions:reserve_stok"))
    return bad


def test_a_python_function_that_does_not_exist_is_a_located_error(tmp_path: Path) -> None:
    bad = _typo_order_saga(tmp_path)
    line = 1 + bad.read_text().split("reserve_stok")[0].count("\n")
    result = nexus("validate", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"{bad}: ok" not in result.stdout
    errors = [x for x in result.stderr.splitlines() if ": error: " in x]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"{bad}:{line}:"), errors[0]
    assert "function 'reserve'" in errors[0] and "has no function 'reserve_stok'" in errors[0]
    assert "    hint: did you mean 'reserve_stock'?" in result.stderr
    report = json.loads(nexus("validate", "--json", str(bad)).stdout)
    assert [i["code"] for i in report["issues"]] == ["function-not-found"]


def test_cloud_targets_without_a_configured_provider_are_warnings(tmp_path: Path) -> None:
    result = nexus("validate", "examples/multi_cloud")
    assert result.returncode == 0, result.stderr
    assert "examples/multi_cloud/workflow.yaml: ok (" in result.stdout
    assert result.stderr == ""  # warnings go to stdout; stderr is for what fails
    warnings = [x for x in result.stdout.splitlines() if ": warning: " in x]
    # one line per function: price and fx on Lambda, fx_gcp on Cloud Functions, tax on Azure
    assert len(warnings) == 4, result.stderr
    assert all(w.startswith("examples/multi_cloud/workflow.yaml:") for w in warnings)
    assert any(
        "function 'price': the aws-lambda provider is not configured" in w
        and "(state 'Price')" in w
        for w in warnings
    ), warnings
    assert re.match(r"^examples/multi_cloud/workflow\.yaml:\d+:\d+: warning: ", warnings[0])
    providers = tmp_path / "providers.yaml"
    providers.write_text("aws: {}\nazure: {}\ngcp: {}\n")
    configured = nexus("validate", "examples/multi_cloud", "--providers", str(providers))
    assert configured.returncode == 0, configured.stderr
    assert "warning" not in configured.stdout, configured.stdout


def test_the_examples_validate_with_only_the_multi_cloud_warnings() -> None:
    result = nexus("validate", "examples")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for line in result.stdout.splitlines():
        assert (
            line.startswith("    hint: ")
            or line.startswith("examples/multi_cloud/")
            or line.endswith(")")
            and ": ok (" in line
        ), line
