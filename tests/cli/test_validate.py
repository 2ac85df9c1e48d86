"""``nexus validate``."""

from __future__ import annotations

import json

from tests.cli.helpers import assert_lists, help_text, nexus


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
