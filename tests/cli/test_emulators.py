"""``nexus emulators`` (the emulators themselves: tests/activities/test_emulators.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import assert_lists, help_text, nexus


def test_help_lists_the_flags() -> None:
    assert_lists(help_text("emulators"), "path", "--providers-out")


def test_a_spec_without_emulators_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text('{"emulators": []}')
    result = nexus("emulators", str(spec))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"nexus: error: {spec} declares no emulators" in result.stdout
