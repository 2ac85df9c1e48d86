"""``nexus insights`` (the correlation itself: tests/resilience/test_insights.py)."""

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
        help_text("insights"),
        "--history",
        "--workflow-id",
        "--query",
        "--simulate",
        "--window",
        "--by",
        "--scope",
        "--min-support",
        "--alpha",
        "--top",
        "--seed",
        "--mermaid",
        "--png",
        "--json",
    )


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    assert_usage_error(
        nexus("insights", "--history", str(tmp_path), "--window", "soon"),
        "nexus: error: insights: --window 'soon': ",
    )
    assert_usage_error(
        nexus("insights", "--history", str(tmp_path)),
        "nexus: error: insights: no history files (*.json) in ",
    )
    assert_usage_error(
        nexus("insights", "--simulate", "meteor"), "nexus: error: insights: --simulate meteor: "
    )
    assert_usage_error(
        nexus("insights", "--history", str(tmp_path), "--top", "0"),
        "nexus: error: insights: --min-support and --top must be >= 1",
    )
    assert_argparse_error(nexus("insights"), "nexus insights", "one of the arguments --history")
