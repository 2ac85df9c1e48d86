"""``nexus history export`` (exporting real executions: tests/e2e/test_replay_cli.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)


def test_help_lists_the_flags() -> None:
    assert_lists(help_text("history"), "export")
    assert_lists(help_text("history", "export"), "WORKFLOW_ID", "--query", "--output", "-o DIR")


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    assert_usage_error(
        nexus("history", "export"),
        "nexus: error: history export: give WORKFLOW_ID... or --query, not both or neither",
    )
    assert_usage_error(nexus("history", "export", "a", "--query", "q"), "not both or neither")
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert_usage_error(
        nexus("history", "export", "a", "-o", str(not_a_dir)),
        f"nexus: error: --output {not_a_dir} is not a directory",
    )
    assert_argparse_error(nexus("history"), "nexus history", "required: COMMAND")


def test_an_unreachable_server_exits_1() -> None:
    result = nexus("history", "export", "a", "--address", "127.0.0.1:1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("nexus: error: cannot connect to Temporal at 127.0.0.1:1")
