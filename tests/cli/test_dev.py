"""``nexus dev``: the worker's flags and its own; nothing starts for an invalid definition."""

from __future__ import annotations

from tests.cli.helpers import assert_argparse_error, assert_lists, help_text, nexus
from tests.cli.test_worker import WORKER_FLAGS


def test_help_lists_the_worker_flags_and_its_own() -> None:
    assert_lists(help_text("dev"), *WORKER_FLAGS, "--db DB", "--ui-port", "--ui-codec-endpoint")


def test_an_invalid_definition_stops_it_before_any_server() -> None:
    result = nexus("dev", "tests/broken/choice_with_next.yaml", "--db", "/nonexistent/x.db")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Temporal dev server" not in result.stdout
    assert result.stderr.startswith("tests/broken/choice_with_next.yaml:8:5: error: ")


def test_a_bad_port_is_a_usage_error() -> None:
    assert_argparse_error(
        nexus("dev", "examples/approval", "--ui-port", "x"), "nexus dev", "invalid int value"
    )
