"""Run the real ``nexus`` command (``python -m nexus_temporal.cli``) and check what it printed."""

from __future__ import annotations

import subprocess

from tests.helpers.processes import nexus_cmd, run_cli


def nexus(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_cli(nexus_cmd(*args), timeout=timeout)


def help_text(*command: str) -> str:
    """``nexus COMMAND... --help``: exit 0, the usage on stdout."""
    result = nexus(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: nexus {' '.join(command)}".rstrip()), result.stdout
    return result.stdout


def assert_lists(text: str, *flags: str) -> None:
    missing = [f for f in flags if f not in text]
    assert not missing, f"{missing} not in:\n{text}"


def assert_usage_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, one line on stderr (``... error: ...``) holding every ``expected`` text, no
    traceback; that line is returned."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def assert_argparse_error(result: subprocess.CompletedProcess[str], prog: str, text: str) -> None:
    """An argparse refusal: exit 2, the usage and ``PROG: error: ...TEXT`` last, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{prog}: error: "), result.stderr
    assert text in last, (text, last)
