"""``nexus replay`` (against a server and real histories: tests/e2e/test_replay_cli.py)."""

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
    assert_lists(
        help_text("replay"),
        "--definitions",
        "-d FILE_OR_DIR",
        "--history",
        "--workflow-id",
        "--query",
        "--json",
        "--codec-keys",
    )


def test_the_recorded_example_histories_are_compatible() -> None:
    result = nexus("replay", "-d", "examples", "--history", "tests/histories", timeout=180)
    assert result.returncode == 0, result.stderr
    assert " 0 incompatible (" in result.stderr.strip().splitlines()[-1]


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    assert_usage_error(
        nexus("replay", "-d", "examples", "--history", str(tmp_path / "none")),
        "nexus: error: ",
        "no such file or directory",
    )
    assert_usage_error(
        nexus("replay", "-d", "examples", "--history", str(tmp_path)),
        "nexus: error: no history files (*.json) in ",
    )
    assert_argparse_error(
        nexus("replay", "-d", "examples"), "nexus replay", "one of the arguments --history"
    )
