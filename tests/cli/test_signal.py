"""``nexus signal`` (sending an approval to a running workflow: tests/e2e/test_cli.py)."""

from __future__ import annotations

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)


def test_help_lists_the_arguments() -> None:
    assert_lists(help_text("signal"), "workflow_id", "name", "--input", "--address")


def test_bad_input_is_one_line() -> None:
    result = nexus("signal", "wf", "approve", "--input", "[1,", "--address", "127.0.0.1:1")
    assert_usage_error(result, "nexus: error: --input is not valid JSON")


def test_missing_arguments_are_a_usage_error() -> None:
    assert_argparse_error(nexus("signal", "wf"), "nexus signal", "required: name")
