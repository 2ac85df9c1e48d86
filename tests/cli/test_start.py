"""``nexus start``: ``run``'s flags, returning once started (tests/e2e/test_cli.py)."""

from __future__ import annotations

from tests.cli.helpers import assert_lists, assert_usage_error, help_text, nexus


def test_help_lists_the_flags() -> None:
    assert_lists(help_text("start"), "NAME[@VERSION]", "--input", "--workflow-id", "--id")


def test_an_unreadable_input_file_is_one_line() -> None:
    result = nexus("start", "x", "--input", "@no/such.json", "--address", "127.0.0.1:1")
    assert_usage_error(result, "nexus: error: cannot read input file no/such.json")
