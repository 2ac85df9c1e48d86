"""``nexus worker`` (more in tests/e2e/test_cli.py and tests/security/test_listeners.py)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import (
    assert_argparse_error,
    assert_lists,
    assert_usage_error,
    help_text,
    nexus,
)

ROOT = Path(__file__).resolve().parents[2]

WORKER_FLAGS = (
    "DIR_OR_FILE",
    "--import MODULE",
    "--task-queue",
    "--policy FILE",
    "--allow-policy-violations",
    "--providers FILE",
    "--address",
    "--namespace",
    "--codec-keys",
    "--otel-exporter",
    "--metrics-port",
    "--health-port",
    "--skip-unservable",
)


def test_help_lists_the_flags() -> None:
    text = help_text("worker")
    assert_lists(text, *WORKER_FLAGS)
    assert "--ui-port" not in text and "--db" not in text


def test_an_invalid_definition_stops_it_before_connecting() -> None:
    result = nexus("worker", "tests/broken/choice_with_next.yaml", "--address", "127.0.0.1:1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("tests/broken/choice_with_next.yaml:8:5: error: ")


def test_bad_flags_are_usage_errors() -> None:
    assert_argparse_error(
        nexus("worker", "examples/approval", "--otel-exporter", "bogus"),
        "nexus worker",
        "invalid choice: 'bogus'",
    )
    assert_argparse_error(nexus("worker"), "nexus worker", "required: DIR_OR_FILE")


def test_an_unreadable_policy_file_is_one_located_line() -> None:
    result = nexus(
        "worker", "examples/approval", "--policy", "no/such.yaml", "--address", "127.0.0.1:1"
    )
    assert_usage_error(result, "no/such.yaml: error: cannot read file")


def test_a_misspelt_python_function_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    text = (ROOT / "examples/order_saga/workflow.yaml").read_text()
    bad = tmp_path / "typo.yaml"
    bad.write_text(text.replace("functions:reserve_stock", "functions:reserve_stok"))
    result = nexus("worker", str(bad), "--address", "127.0.0.1:1")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "has no function 'reserve_stok'; did you mean 'reserve_stock'?" in result.stderr


def test_a_provider_that_is_not_configured_refuses_the_worker_with_a_way_out() -> None:
    """A production worker starts no emulator and does not silently skip a definition."""
    result = nexus("worker", "examples/", "--address", "127.0.0.1:1", timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "function 'price': the aws-lambda provider is not configured" in result.stderr
    assert "'nexus dev' starts the emulators" in result.stderr
    assert "--skip-unservable serves the other definitions" in result.stderr
    assert "skipped" not in result.stderr


def test_skip_unservable_names_each_skipped_definition() -> None:
    result = nexus(
        "worker", "examples/", "--skip-unservable", "--address", "127.0.0.1:1", timeout=120
    )
    skipped = [x for x in result.stderr.splitlines() if x.startswith("skipped ")]
    assert skipped == [
        "skipped multi-cloud-quote@1 (examples/multi_cloud/workflow.yaml): function 'price': "
        "the aws-lambda provider is not configured on this worker (add 'aws:' to the providers "
        "file or set NEXUS_AWS_REGION) (state 'Price')"
    ], result.stderr
    # the rest passed every check: what stops it now is the unreachable server (exit 1)
    assert result.returncode == 1 and "cannot connect to Temporal" in result.stderr
