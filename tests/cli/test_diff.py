"""``nexus diff OLD NEW [--histories PATH...]``: per-state changes of the compiled plans and the
committed example histories (tests/histories) they affect."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import assert_lists, assert_usage_error, help_text, nexus

ROOT = Path(__file__).resolve().parents[2]
SAGA = ROOT / "examples" / "order_saga" / "workflow.yaml"
HISTORIES = str(ROOT / "tests" / "histories")


def _candidate(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = SAGA.read_text()
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "v2.yaml"
    path.write_text(text)
    return path


def test_help_lists_the_arguments() -> None:
    assert_lists(help_text("diff"), "OLD", "NEW", "--histories", "--output")


def test_a_reformatting_is_no_change(tmp_path: Path) -> None:
    new = _candidate(tmp_path, ("retry: 2", "retry: {max_attempts: 2}  # spelled out"))
    result = nexus("diff", str(SAGA), str(new), "--histories", HISTORIES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no change (the same compiled plan)" in result.stdout
    assert "histories: 0 of 2 affected" in result.stdout


def test_per_state_changes_and_the_histories_they_affect(tmp_path: Path) -> None:
    new = _candidate(
        tmp_path,
        ("reservation: reservation_id", "reservation_ref: reservation_id"),
        ("message: the carrier rejected the shipping address", "message: bad address"),
        (
            "  ship: python:examples.order_saga.functions:book_shipping",
            "  ship: https://ship.example/book",
        ),
    )
    result = nexus("diff", str(SAGA), str(new), "--histories", HISTORIES)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("order-saga@1 (") and " -> order-saga@1 (" in lines[0]
    assert (
        "~ ReserveStock: assign.reservation: 'reservation_id' -> (absent); "
        "assign.reservation_ref: (absent) -> 'reservation_id'"
    ) in lines
    assert (
        "~ ShipOrder: function ship: 'python:examples.order_saga.functions:book_shipping' "
        "-> 'https://ship.example/book'"
    ) in lines
    assert "~ AddressProblem: message: 'the carrier rejected the shipping address' -> " in (
        result.stdout
    )
    assert not any(line.startswith("~ ChargeCard") for line in lines)
    # Both order histories reserved stock; only the undeliverable one reached AddressProblem.
    assert "histories: 2 of 2 affected" in lines
    undeliverable = next(line for line in lines if "undeliverable" in line)
    assert undeliverable.endswith("visited AddressProblem, ReserveStock, ShipOrder")
    deliverable = next(line for line in lines if "a-deliverable" in line)
    assert deliverable.endswith("visited ReserveStock, ShipOrder")


def test_added_and_removed_states_in_json(tmp_path: Path) -> None:
    new = _candidate(
        tmp_path,
        ("    next: Done\n  - name: AddressProblem", "    next: Audit\n  - name: AddressProblem"),
        (
            "  - name: Done\n",
            "  - name: Audit\n    type: pass\n    next: Finished\n  - name: Finished\n",
        ),
    )
    result = nexus("diff", str(SAGA), str(new), "--histories", HISTORIES, "--output", "json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    changes = {s["state"]: s["change"] for s in doc["states"]}
    assert changes == {
        "ShipOrder": "changed",
        "Audit": "added",
        "Finished": "added",
        "Done": "removed",
    }
    [ship] = [s for s in doc["states"] if s["state"] == "ShipOrder"]
    assert ship["fields"] == [{"path": "next", "old": "Done", "new": "Audit"}]
    affected = {a["workflow_id"]: a["states"] for a in doc["affected"]}
    assert len(affected) == 2 and all("ShipOrder" in s for s in affected.values())
    assert len(doc["other_definition"]) > 10  # the other examples' histories


def test_a_defaults_change_affects_every_history_of_the_definition(tmp_path: Path) -> None:
    new = _candidate(tmp_path, ("  timeout: 30s", "  timeout: 10s"))
    result = nexus("diff", str(SAGA), str(new), "--histories", HISTORIES)
    assert result.returncode == 1
    assert "~ (definition): defaults.timeout: 30.0 -> 10.0" in result.stdout
    assert "histories: 2 of 2 affected" in result.stdout


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    assert_usage_error(
        nexus("diff", str(SAGA), str(SAGA), "--histories", str(tmp_path)),
        "nexus: error: no history files (*.json) in ",
    )
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert_usage_error(
        nexus("diff", str(SAGA), str(SAGA), "--histories", str(bad)), "bad.json: not JSON"
    )
    result = nexus("diff", str(SAGA), str(tmp_path / "missing.yaml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
