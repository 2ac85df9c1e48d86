"""``nexus graph``."""

from __future__ import annotations

from tests.cli.helpers import assert_argparse_error, assert_lists, help_text, nexus


def test_help_lists_the_argument() -> None:
    assert_lists(help_text("graph"), "FILE")


def test_prints_mermaid() -> None:
    result = nexus("graph", "examples/approval/workflow.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowchart"), result.stdout[:200]


def test_an_invalid_definition_is_located_and_exits_2() -> None:
    result = nexus("graph", "tests/broken/choice_with_next.yaml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("tests/broken/choice_with_next.yaml:8:5: error: ")


def test_no_file_is_a_usage_error() -> None:
    assert_argparse_error(nexus("graph"), "nexus graph", "required: FILE")
