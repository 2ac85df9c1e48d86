"""The `idempotent:` marker on functions, and the lint rule that reads it before the HTTP method."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nexus_temporal.dsl.compiler import compile_file, compile_text
from nexus_temporal.registry import load_registry
from policies.engine import check_plan, load_policy
from tests.helpers.processes import ROOT, nexus_cmd, run_cli

RULE = "non-idempotent-needs-compensation"


def definition(function: str, compensate: bool = False) -> str:
    return textwrap.dedent(
        f"""\
        name: marked
        defaults:
          timeout: 10s
        functions:
          act: {function}
          undo: python:examples.order_saga.functions:refund_card
        states:
          - name: Act
            action: act
            retry: 3
        """
    ) + ("    compensate: undo\n" if compensate else "")


def rule_hits(tmp_path: Path, function: str, compensate: bool = False) -> list[str]:
    path = tmp_path / "workflow.yaml"
    path.write_text(definition(function, compensate))
    found = check_plan(compile_file(path), [load_policy("default")])
    return [v.state or "" for v in found if v.rule == RULE]


@pytest.mark.parametrize(
    "function,flagged",
    [
        # The marker, on targets whose method says nothing (python:, activity:, cloud).
        ("{uri: 'python:examples.order_saga.functions:charge_card', idempotent: false}", True),
        ("{uri: 'activity:charge', idempotent: false}", True),
        ("{uri: 'python:examples.order_saga.functions:charge_card', idempotent: true}", False),
        ("python:examples.order_saga.functions:charge_card", False),  # unknown: not judged
        # The marker wins over the HTTP method heuristic...
        ("{uri: 'https://pay.example.com/charge', method: POST, idempotent: true}", False),
        ("{uri: 'https://pay.example.com/charge', method: PUT, idempotent: false}", True),
        # ...which still applies without it.
        ("{uri: 'https://pay.example.com/charge', method: POST}", True),
        ("{uri: 'https://pay.example.com/charge', method: PUT}", False),
    ],
)
def test_marker_first_then_http_method(tmp_path: Path, function: str, flagged: bool) -> None:
    assert rule_hits(tmp_path, function) == (["Act"] if flagged else [])


def test_a_compensation_satisfies_the_rule_for_a_marked_function(tmp_path: Path) -> None:
    marked = "{uri: 'activity:charge', idempotent: false}"
    assert rule_hits(tmp_path, marked, compensate=True) == []


def test_marker_left_unset_keeps_every_existing_hash() -> None:
    plain = definition("{uri: 'activity:charge'}")
    unknown = definition("{uri: 'activity:charge', idempotent: null}")
    marked = definition("{uri: 'activity:charge', idempotent: false}")
    assert compile_text(plain, "a.yaml").hash == compile_text(unknown, "b.yaml").hash
    assert compile_text(plain, "a.yaml").hash != compile_text(marked, "c.yaml").hash
    # and the committed histories' pins: every example still compiles to the hash it ran with
    registry = load_registry([ROOT / "examples"])
    assert registry.by_hash("4acf464fedd09d6ff50d39ed813cd1151ba42d050c1d7a185aff51a9fa945133")


def test_nexus_lint_reports_the_marked_function(tmp_path: Path) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text(definition("{uri: 'activity:charge', idempotent: false}"))
    result = run_cli(nexus_cmd("lint", str(path)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"error: [{RULE}]" in result.stdout and "(state 'Act')" in result.stdout
    path.write_text(definition("{uri: 'activity:charge', idempotent: true}"))
    result = run_cli(nexus_cmd("lint", str(path)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_marker_must_be_a_boolean(tmp_path: Path) -> None:
    path = tmp_path / "workflow.yaml"
    path.write_text(definition("{uri: 'activity:charge', idempotent: sometimes}"))
    result = run_cli(nexus_cmd("validate", str(path)))
    assert result.returncode == 2
    assert "idempotent" in result.stderr and "Traceback" not in result.stderr
