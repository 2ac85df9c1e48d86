"""``nexus lint`` (the rules and their output: tests/policies/test_lint.py)."""

from __future__ import annotations

from tests.cli.helpers import assert_lists, assert_usage_error, help_text, nexus


def test_help_lists_the_flags() -> None:
    assert_lists(help_text("lint"), "DEFINITION", "--policy", "-p FILE", "--json")


def test_the_examples_pass_the_default_rules() -> None:
    result = nexus("lint", "examples")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("0 error(s)")


def test_an_unreadable_policy_file_is_one_line() -> None:
    result = nexus("lint", "--policy", "no/such.yaml", "examples/approval")
    assert_usage_error(result, "no/such.yaml: error: cannot read file")
