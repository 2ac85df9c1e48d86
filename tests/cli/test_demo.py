"""``nexus demo`` (every example run end to end: ``make demo``, tests/e2e/test_examples.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import assert_lists, help_text, nexus


def test_help_lists_the_flags() -> None:
    assert_lists(help_text("demo"), "[path]", "--db DB")


def test_an_invalid_example_stops_it_before_any_server(tmp_path: Path) -> None:
    (tmp_path / "workflow.yaml").write_text("name: x\nstates: []\n")
    result = nexus("demo", str(tmp_path), "--db", str(tmp_path / "t.db"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Temporal dev server" not in result.stdout
    assert result.stderr.startswith(f"{tmp_path / 'workflow.yaml'}:")
