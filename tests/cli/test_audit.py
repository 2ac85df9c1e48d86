"""``nexus audit export|verify`` (trails: tests/test_audit.py, tests/security/test_audit.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)


def test_help_lists_the_actions_and_their_flags() -> None:
    assert_lists(help_text("audit"), "export", "verify")
    assert_lists(
        help_text("audit", "export"), "WORKFLOW_ID", "--output", "--contents", "--hmac-key-env"
    )
    assert_lists(
        help_text("audit", "verify"),
        "FILE",
        "--hmac-key-env",
        "--require-complete",
        "--workflow-id",
        "--json",
        "--max-bytes",
    )


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    assert_usage_error(
        nexus("audit", "verify", str(tmp_path / "none.jsonl")),
        "nexus: error: cannot read ",
        "none.jsonl",
    )
    assert_usage_error(
        nexus("audit", "verify", "x", "--hmac-key-env", "NEXUS_TEST_NO_SUCH_VAR"),
        "nexus: error: environment variable NEXUS_TEST_NO_SUCH_VAR (--hmac-key-env) is not set",
    )
    assert_argparse_error(
        nexus("audit", "verify", "x", "--max-bytes", "0"),
        "nexus audit verify",
        "expected a positive number of bytes",
    )
    assert_argparse_error(nexus("audit"), "nexus audit", "required: ACTION")


def test_an_unreachable_server_exits_1() -> None:
    result = nexus("audit", "export", "wf", "--address", "127.0.0.1:1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("nexus: error: cannot connect to Temporal at 127.0.0.1:1")
