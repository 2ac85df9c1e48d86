"""``nexus migrate stepfunctions`` (conversions and reports: tests/stepfunctions/test_cli.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)


def test_help_lists_the_sources_and_flags() -> None:
    assert_lists(help_text("migrate"), "stepfunctions")
    assert_lists(
        help_text("migrate", "stepfunctions"),
        "FILE|DIR",
        "--output",
        "--strict",
        "--name",
        "--version",
    )


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    assert_usage_error(
        nexus("migrate", "stepfunctions", str(tmp_path / "none.json")),
        f"nexus migrate: error: {tmp_path / 'none.json'}: no such file or directory",
    )
    assert_usage_error(
        nexus("migrate", "stepfunctions", str(tmp_path)),
        f"nexus migrate: error: no ASL files (*.json, *.yaml) in {tmp_path}",
    )
    (tmp_path / "a.asl.json").write_text("{}")
    assert_usage_error(
        nexus("migrate", "stepfunctions", str(tmp_path)),
        "nexus migrate: error: converting a directory needs -o OUT",
    )
    assert_argparse_error(nexus("migrate"), "nexus migrate", "required: SOURCE")
