"""``nexus run`` (following a workflow to its result: tests/e2e/test_cli.py)."""

from __future__ import annotations

from tests.cli.helpers import assert_lists, assert_usage_error, help_text, nexus


def test_help_lists_the_flags() -> None:
    assert_lists(
        help_text("run"), "NAME[@VERSION]", "--input", "--workflow-id", "--task-queue", "--address"
    )


def test_bad_input_is_one_line_before_connecting() -> None:
    result = nexus("run", "x", "--input", "{bad", "--address", "127.0.0.1:1")
    assert_usage_error(result, "nexus: error: --input is not valid JSON")


def test_unusable_codec_keys_are_a_usage_error() -> None:
    result = nexus("run", "x", "--codec-keys", "no/such/keys", "--address", "127.0.0.1:1")
    assert_usage_error(result, "nexus: error: ", "no/such/keys")


def test_an_unreachable_server_exits_1_in_one_line() -> None:
    result = nexus("run", "x", "--address", "127.0.0.1:1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("nexus: error: cannot connect to Temporal at 127.0.0.1:1")
