"""``nexus replay`` sees data flow: changed inputs of commands history recorded are incompatible.

Each test edits a copy of an example definition (written to tmp_path) and replays the
committed histories of that example (tests/histories, recorded from real runs) against it with
Temporal's replayer, as ``nexus replay --definitions COPY`` does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from nexus_temporal.registry import load_registry
from nexus_temporal.replay import ReplayReport, load_history, replay
from tests.cli.helpers import assert_usage_error, nexus

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = ROOT / "tests" / "histories"


def _history(prefix: str) -> Path:
    [path] = [h for h in HISTORIES.glob("*.json") if h.name.startswith(prefix)]
    return path


UNDELIVERABLE = _history("order-saga-an-undeliverable")
DELIVERABLE = _history("order-saga-a-deliverable")
KYC_PASSED = _history("chained-workflows-a-customer-passes")
LARGE_EXPENSE = _history("approval-a-large-expense")
SMALL_EXPENSE = _history("approval-a-small-expense")
SFN_CONFIRMED = _history("sfn-orders-a-migrated")


def _copy(tmp_path: Path, example: str, old: str, new: str, file: str = "workflow.yaml") -> Path:
    """A copy of ``examples/<example>`` with ``old`` replaced by ``new`` in ``file``."""
    target = tmp_path / example
    shutil.copytree(ROOT / "examples" / example, target, ignore=shutil.ignore_patterns("*.py"))
    path = target / file
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return target


async def _replay(definitions: Path, *histories: Path, **options: object) -> list[ReplayReport]:
    return await replay(
        [load_history(h) for h in histories],
        load_registry([definitions]),
        candidates=True,
        **options,  # type: ignore[arg-type]
    )


async def test_an_assign_key_rename_the_compensation_reads_is_incompatible(tmp_path: Path) -> None:
    # `release` would get {} where history sent the reservation: only the execution where the
    # compensation ran is affected.
    defs = _copy(
        tmp_path, "order_saga", "reservation: reservation_id", "reservation_ref: reservation_id"
    )
    undeliverable, deliverable = await _replay(defs, UNDELIVERABLE, DELIVERABLE)
    assert not undeliverable.ok
    assert undeliverable.state == "ReserveStock"
    assert undeliverable.problem is not None
    assert undeliverable.problem.startswith(
        'DATA CHANGED at state ReserveStock: compensation.input.reservation: recorded "res-'
    )
    assert undeliverable.problem.endswith("/ now (absent)")
    [finding] = [f for f in undeliverable.findings if f.severity == "error"]
    assert finding.event_id == undeliverable.event_id and finding.event_id
    assert finding.recorded.startswith("res-") and finding.now is None
    assert "INCOMPATIBLE: DATA CHANGED at state ReserveStock" in undeliverable.render()
    assert deliverable.ok, deliverable.render()
    assert not deliverable.findings


async def test_a_changed_task_input_expression_is_incompatible(tmp_path: Path) -> None:
    defs = _copy(
        tmp_path,
        "order_saga",
        """'{"order": order_id, "amount": $sum(items.price)}'""",
        """'{"order": order_id, "amount": $sum(items.price) * 2}'""",
    )
    for report in await _replay(defs, UNDELIVERABLE, DELIVERABLE):
        assert not report.ok
        assert report.state == "ChargeCard"
        assert report.problem is not None
        assert report.problem.startswith(
            "DATA CHANGED at state ChargeCard: input.amount: recorded "
        )
        recorded = next(f for f in report.findings if f.field == "input.amount")
        assert recorded.now == 2 * recorded.recorded


async def test_a_changed_compensation_input_is_incompatible(tmp_path: Path) -> None:
    defs = _copy(
        tmp_path,
        "order_saga",
        """'{"charge_id": charge.charge_id, "amount": charge.amount}'""",
        """'{"charge_id": charge.charge_id, "amount": charge.amount, "reason": "saga"}'""",
    )
    undeliverable, deliverable = await _replay(defs, UNDELIVERABLE, DELIVERABLE)
    assert not undeliverable.ok
    assert undeliverable.problem == (
        "DATA CHANGED at state ChargeCard: compensation.input.reason: "
        'recorded (absent) / now "saga"'
    )
    assert deliverable.ok  # it never compensated


async def test_a_changed_child_input_is_incompatible(tmp_path: Path) -> None:
    defs = _copy(
        tmp_path,
        "chained_workflows",
        """input: '{"name": name, "country": country}'""",
        """input: '{"name": $uppercase(name), "country": country}'""",
    )
    [report] = await _replay(defs, KYC_PASSED)
    assert not report.ok
    assert report.state == "CheckIdentity"
    assert report.problem is not None
    assert report.problem.startswith("DATA CHANGED at state CheckIdentity: input.name: recorded ")
    [finding] = report.findings
    assert finding.now == finding.recorded.upper() != finding.recorded


async def test_a_changed_wait_duration_is_incompatible(tmp_path: Path) -> None:
    defs = _copy(tmp_path, "sfn_orders", "duration: 1s", "duration: 2s")
    [report] = await _replay(defs, SFN_CONFIRMED)
    assert not report.ok
    assert report.problem is not None
    assert report.problem == "DATA CHANGED at state Settle: duration: recorded 1s / now 2s"
    [finding] = report.findings
    assert (finding.recorded, finding.now) == (1.0, 2.0)


async def test_a_change_in_an_unreached_branch_stays_compatible(tmp_path: Path) -> None:
    # The small expense is approved by policy: it never reaches NotifyManager; the large one did.
    defs = _copy(
        tmp_path,
        "approval",
        """input: '{"expense": id, "amount": amount}'""",
        """input: '{"expense": id, "amount": amount, "urgent": true}'""",
    )
    small, large = await _replay(defs, SMALL_EXPENSE, LARGE_EXPENSE)
    assert small.ok and not small.findings, small.render()
    assert small.change == "changed-in-place"
    assert not large.ok
    assert large.problem == (
        "DATA CHANGED at state NotifyManager: input.urgent: recorded (absent) / now true"
    )


async def test_a_reformatting_stays_compatible(tmp_path: Path) -> None:
    defs = _copy(
        tmp_path,
        "order_saga",
        """    input: '{"order": order_id, "items": items}'""",
        "    # the order and its items\n    input: >-\n"
        '      {"order": order_id,\n       "items": items}',
    )
    reports = await _replay(defs, UNDELIVERABLE, DELIVERABLE)
    assert all(r.ok and not r.findings for r in reports), [r.render() for r in reports]


async def test_a_changed_output_of_a_completed_execution_is_a_warning(tmp_path: Path) -> None:
    defs = _copy(tmp_path, "order_saga", '"status": "shipped"', '"status": "sent"')
    deliverable, undeliverable = await _replay(defs, DELIVERABLE, UNDELIVERABLE)
    assert deliverable.ok
    [finding] = deliverable.findings
    assert finding.severity == "warning" and finding.kind == "result"
    assert finding.field == "result.status" and finding.state == "Done"
    assert finding.message.startswith('result would differ: result.status: recorded "shipped"')
    assert "compatible (1 warning(s))" in deliverable.render()
    assert undeliverable.ok and not undeliverable.findings  # it failed: no result to compare


async def test_data_changes_declared_safe_are_warnings(tmp_path: Path) -> None:
    defs = _copy(
        tmp_path, "order_saga", "reservation: reservation_id", "reservation_ref: reservation_id"
    )
    [allowed] = await _replay(defs, UNDELIVERABLE, allow_data_changes={"ReserveStock"})
    [warned] = await _replay(defs, UNDELIVERABLE, data_changes="warning")
    [other] = await _replay(defs, UNDELIVERABLE, allow_data_changes={"ChargeCard"})
    for report in (allowed, warned):
        assert report.ok, report.render()
        assert [f.severity for f in report.findings] == ["warning"]
        assert "(declared safe)" in report.render()
    assert not other.ok


def test_the_cli_reports_data_changes_and_downgrades_them(tmp_path: Path) -> None:
    defs = _copy(
        tmp_path, "order_saga", "reservation: reservation_id", "reservation_ref: reservation_id"
    )
    history = str(UNDELIVERABLE)
    text = nexus("replay", "-d", str(defs), "--history", history, timeout=120)
    assert text.returncode == 1, text.stderr
    assert "INCOMPATIBLE: DATA CHANGED at state ReserveStock: compensation.input.reservation" in (
        text.stdout
    )
    assert "Traceback" not in text.stderr

    out = nexus("replay", "-d", str(defs), "--history", history, "--output", "json", timeout=120)
    assert out.returncode == 1
    [execution] = json.loads(out.stdout)["executions"]
    [finding] = execution["findings"]
    assert finding["state"] == "ReserveStock" and finding["severity"] == "error"
    assert isinstance(finding["event_id"], int) and finding["now"] is None
    assert execution["compatible"] is False

    safe = nexus(
        "replay",
        "-d",
        str(defs),
        "--history",
        history,
        "--allow-data-change",
        "ReserveStock,Done",
        "--output",
        "json",
        timeout=120,
    )
    assert safe.returncode == 0, safe.stdout
    document = json.loads(safe.stdout)
    assert document["warnings"] == 1 and document["incompatible"] == 0
    warn = nexus("replay", "-d", str(defs), "--history", history, "--data-changes", "warn")
    assert warn.returncode == 0, warn.stdout
    assert "warning: DATA CHANGED at state ReserveStock" in warn.stdout


def test_an_unknown_state_to_allow_is_a_usage_error(tmp_path: Path) -> None:
    assert_usage_error(
        nexus(
            "replay",
            "-d",
            "examples",
            "--history",
            str(UNDELIVERABLE),
            "--allow-data-change",
            "ReserveStok",
        ),
        "--allow-data-change: no given definition has a state 'ReserveStok'",
        "did you mean 'ReserveStock'?",
    )
