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
    assert f"nexus: error: {spec} declares no emulators" in result.stderr


def test_an_example_without_emulators_and_bad_specs_are_one_line_errors(tmp_path: Path) -> None:
    """examples/approval runs no cloud function: its example.json has no 'emulators'."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"emulators": {"runs": []}}')
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    cases = {
        "examples/approval": "examples/approval/example.json declares no emulators",
        str(tmp_path / "missing.json"): "missing.json does not exist",
        str(bad): "unknown emulator(s) ['runs']",
        str(broken): "cannot read",
    }
    for path, message in cases.items():
        result = nexus("emulators", path)
        assert result.returncode == 2, (path, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr + result.stdout
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
