"""``nexus bench overhead|fanout|resilience`` (running them: tests/e2e/test_cli.py,
tests/resilience/test_bench_cli.py)."""

from __future__ import annotations

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)


def test_help_lists_the_benchmarks_and_their_flags() -> None:
    assert_lists(help_text("bench"), "overhead", "fanout", "resilience")
    assert_lists(
        help_text("bench", "overhead"), "--states", "--rounds", "--express", "--json", "--address"
    )
    assert_lists(
        help_text("bench", "fanout"), "--items", "--batch", "--concurrency", "--json", "--address"
    )
    assert_lists(
        help_text("bench", "resilience"),
        "--quick",
        "--json",
        "--chart",
        "--seeds",
        "--scenario",
        "--policy",
        "--jobs",
        "--no-forest",
        "--no-compensate-uncertain",
        "--budget-wait",
        "--e2e",
        "--address",
    )


def test_usage_errors_are_one_line() -> None:
    assert_usage_error(
        nexus("bench", "resilience", "--jobs", "0"), "nexus: error: --jobs must be at least 1"
    )
    assert_usage_error(
        nexus("bench", "resilience", "--policy", "hope"), "nexus: error: unknown policy hope ("
    )
    assert_argparse_error(
        nexus("bench", "overhead", "--states", "many"), "nexus bench overhead", "invalid int"
    )
