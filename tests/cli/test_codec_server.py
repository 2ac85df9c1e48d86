"""``nexus codec-server`` (serving: tests/security/test_codec_server.py, keys:
tests/security/test_codec_keys.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)


def test_help_lists_the_flags() -> None:
    assert_lists(
        help_text("codec-server"),
        "--port",
        "--host",
        "--keys",
        "--cors-origin",
        "--allowed-host",
        "--auth-token-file",
        "--auth-token",
        "--max-body-mib",
        "--request-timeout",
        "--max-connections",
        "--new-key",
        "--add-to",
    )


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    result = nexus("codec-server", "--keys", str(tmp_path / "missing.keys"), "--port", "0")
    assert_usage_error(result, "nexus: error: ", "missing.keys")
    assert_usage_error(
        nexus("codec-server", "--add-to", str(tmp_path / "k")),
        "nexus: error: --add-to goes with --new-key ID",
    )
    assert_argparse_error(
        nexus("codec-server", "--max-connections", "0"),
        "nexus codec-server",
        "0 must be greater than 0",
    )


def test_no_keys_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEXUS_CODEC_KEYS", "NEXUS_CODEC_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert_usage_error(nexus("codec-server", "--port", "0"), "nexus: error: no codec keys")
