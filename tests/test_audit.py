"""The audit trail: exported from a real execution's history, then tampered with."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.audit import GENESIS, chain, dumps, export, parse, record_hash, verify
from tests.helpers.processes import ROOT, nexus_cmd
from tests.helpers.run import nexus_worker, start

FNS = "python:tests.helpers.functions"
SAGA = f"""
name: audited
defaults:
  timeout: 10s
  retry: {{max_attempts: 3, initial_interval: 100ms}}
functions:
  echo: {FNS}:echo
  flaky: {FNS}:flaky
  boom: {FNS}:boom
states:
  - name: Reserve
    action: echo
    input: '{{"order": order}}'
    compensate: {{action: echo, input: '{{"undo": order}}'}}
    next: Charge
  - name: Charge
    action: flaky
    input: '{{"key": key, "fail_times": 1}}'
    next: Pause
  - name: Pause
    type: wait
    duration: 100ms
    next: Approval
  - name: Approval
    type: wait
    signal: approve
    assign: {{approved: $}}
    next: Ship
  - name: Ship
    action: boom
    input: '{{"kind": "NoCarrier"}}'
"""
LOOP = f"""
name: audited-loop
defaults:
  timeout: 10s
  history_limit: 100
functions:
  echo: {FNS}:echo
states:
  - name: Poll
    action: echo
    input: '{{"i": i}}'
    assign: {{i: i + 1}}
    next: Again
  - name: Again
    type: choice
    choices:
      - {{when: i < 30, next: Poll}}
    default: Done
  - name: Done
    type: succeed
    output: '{{"polls": i}}'
"""


def audit_cmd(*args: str) -> list[str]:
    """``nexus audit`` once the main CLI has it wired, else the command's own module."""
    from nexus_temporal.cli import build_parser

    try:
        build_parser().parse_args(["audit", "verify", "x"])
        return nexus_cmd("audit", *args)
    except SystemExit:
        return [sys.executable, "-m", "nexus_temporal.cli", "audit", *args]


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    environ["PYTHONPATH"] = str(ROOT) + os.pathsep + environ.get("PYTHONPATH", "")
    environ.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture(scope="module")
async def saga_id(env: WorkflowEnvironment) -> str:
    """A finished execution: a task, a retried task, a timer, a signal, a failure and its
    compensation."""
    async with nexus_worker(env.client, SAGA) as w:
        handle = await start(
            env.client, w, "audited", {"order": "o-1", "key": f"k-{uuid.uuid4().hex}"}
        )
        await handle.signal("approve", {"by": "auditor"})
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    return handle.id


def address_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def test_export_records_every_step(env: WorkflowEnvironment, saga_id: str) -> None:
    records = await export(env.client, saga_id)
    header, steps = records[0], records[1:]
    assert header["kind"] == "export" and header["records"] == len(records)
    assert header["complete"] and len(header["runs"]) == 1
    kinds = [r["kind"] for r in steps]
    assert kinds[0] == "workflow_started" and kinds[-1] == "workflow_failed"
    for kind in ("timer_started", "timer_fired", "signal_received", "marker_recorded"):
        assert kind in kinds, kinds
    done = {(r.get("state"), r["kind"]): r for r in steps if r["kind"].startswith("activity_")}
    assert done[("Reserve", "activity_completed")]["attempt"] == 1
    assert done[("Charge", "activity_completed")]["attempt"] == 2  # failed once, retried
    failed = done[("Ship", "activity_failed")]
    assert failed["error"]["type"] == "NoCarrier" and failed["error"]["non_retryable"]
    assert ("compensate Reserve", "activity_completed") in done
    signal = next(r for r in steps if r["kind"] == "signal_received")
    assert signal["signal"] == "approve"
    digest = signal["input"][0]["sha256"]
    assert len(digest) == 64 and "json" not in signal["input"][0]
    assert all(r["workflow_id"] == saga_id and r["run_id"] == header["runs"][0] for r in steps)
    assert all(r["time"].endswith("Z") for r in steps)
    # The chain: each record's prev is the hash before it.
    assert records[0]["prev"] == GENESIS
    for before, record in zip(records, records[1:], strict=False):
        assert record["prev"] == before["hash"] and record["hash"] == record_hash(record)
    assert verify(records) == []


async def test_export_with_contents(env: WorkflowEnvironment, saga_id: str) -> None:
    records = await export(env.client, saga_id, contents=True)
    signal = next(r for r in records if r["kind"] == "signal_received")
    assert signal["input"][0]["json"] == {"by": "auditor"}
    reserve = next(
        r for r in records if r.get("state") == "Reserve" and r["kind"] == "activity_completed"
    )
    assert reserve["output"][0]["json"] is not None


async def test_export_follows_continue_as_new(env: WorkflowEnvironment) -> None:
    async with nexus_worker(env.client, LOOP) as w:
        handle = await start(env.client, w, "audited-loop", {"i": 0})
        assert await handle.result() == {"polls": 30}
    records = await export(env.client, handle.id)
    runs = records[0]["runs"]
    assert len(runs) >= 2 and runs[0] == handle.first_execution_run_id
    polls = [r for r in records if r.get("state") == "Poll" and r["kind"] == "activity_completed"]
    assert len(polls) == 30
    assert [r["kind"] for r in records].count("workflow_continued_as_new") == len(runs) - 1
    assert records[-1]["kind"] == "workflow_completed" and records[-1]["run_id"] == runs[-1]
    assert verify(records) == []


async def test_cli_export_and_verify_signed(
    env: WorkflowEnvironment, saga_id: str, tmp_path: Path
) -> None:
    out = tmp_path / "trail.jsonl"
    key_env = {"AUDIT_KEY": "s3cret-key"}
    code, _, err = await run_cli(
        *audit_cmd(
            "export", saga_id, "--address", address_of(env), "-o", str(out),
            "--hmac-key-env", "AUDIT_KEY",
        ),
        env=key_env,
    )  # fmt: skip
    assert code == 0, err
    assert "s3cret-key" not in out.read_text()
    assert all("hmac" in r for r in parse(out.read_text()) if r is not None)

    code, stdout, err = await run_cli(
        *audit_cmd("verify", str(out), "--hmac-key-env", "AUDIT_KEY"), env=key_env
    )
    assert code == 0, stdout + err
    assert "intact and signed" in stdout

    code, stdout, _ = await run_cli(
        *audit_cmd("verify", str(out), "--hmac-key-env", "AUDIT_KEY"),
        env={"AUDIT_KEY": "another-key"},
    )
    assert code == 1
    assert "record 1: signature does not match" in stdout

    code, _, err = await run_cli(*audit_cmd("verify", str(out), "--hmac-key-env", "NO_SUCH_VAR"))
    assert code == 2 and "NO_SUCH_VAR" in err and "Traceback" not in err

    code, _, err = await run_cli(
        *audit_cmd("export", "no-such-workflow", "--address", address_of(env))
    )
    assert code == 1 and "no workflow with id 'no-such-workflow'" in err
    assert "Traceback" not in err


# --- tampering (no server needed beyond the fixture's export) ---------------------------------


@pytest.fixture
async def trail(env: WorkflowEnvironment, saga_id: str) -> list[dict[str, Any]]:
    return await export(env.client, saga_id, key=b"k")


def messages(records: list[dict[str, Any] | None], key: bytes | None = b"k") -> list[str]:
    return [str(p) for p in verify(records, key)]


def test_intact_trail_verifies(trail: list[dict[str, Any]]) -> None:
    assert messages(list(trail)) == []
    assert messages(parse(dumps(trail))) == []


def test_an_edited_field_is_detected(trail: list[dict[str, Any]]) -> None:
    edited: list[dict[str, Any] | None] = [dict(r) for r in trail]
    target = next(i for i, r in enumerate(trail) if r.get("state") == "Charge")
    edited[target] = {**trail[target], "attempt": 1}
    found = messages(edited)
    assert f"record {target + 1}: edited: its content does not match its hash" in found
    assert any(m.startswith(f"record {target + 1}: signature does not match") for m in found)
    assert all(m.startswith(f"record {target + 1}:") for m in found), found


def test_an_edit_with_a_recomputed_hash_is_caught_by_the_signature(
    trail: list[dict[str, Any]],
) -> None:
    forged = [dict(r) for r in trail]
    forged[3]["time"] = "2000-01-01T00:00:00Z"
    resigned = chain([{k: v for k, v in r.items() if k not in ("seq", "prev", "hash", "hmac")}
                      for r in forged])  # fmt: skip
    found = messages(list(resigned))
    assert found and all("signature does not match" in m for m in found)
    assert messages(list(resigned), key=None) == []  # a bare chain can be rewritten whole


def test_a_removed_record_is_detected(trail: list[dict[str, Any]]) -> None:
    shortened: list[dict[str, Any] | None] = list(trail[:4]) + list(trail[5:])
    assert messages(shortened) == ["record 5: record 5 before it removed"]
    truncated: list[dict[str, Any] | None] = list(trail[:-2])
    assert messages(truncated) == [
        f"record {len(truncated)}: the export holds {len(trail)} records, the file "
        f"{len(truncated)}: records {len(trail) - 1}-{len(trail)} at the end removed"
    ]


def test_an_inserted_record_is_detected(trail: list[dict[str, Any]]) -> None:
    copy = dict(trail[3])
    inserted: list[dict[str, Any] | None] = list(trail[:4]) + [copy] + list(trail[4:])
    found = messages(inserted)
    assert "record 5: duplicates record 4 (line 4): inserted" in found
    forged = {**trail[3], "kind": "signal_received", "signal": "approve", "seq": 99}
    inserted = list(trail[:4]) + [forged] + list(trail[4:])
    found = messages(inserted)
    assert "record 5: edited: its content does not match its hash" in found
    assert f"record 5: record number 99 is not one of the export's {len(trail)}: inserted" in found
    assert any("records inserted" in m for m in found)


def test_swapped_records_are_detected(trail: list[dict[str, Any]]) -> None:
    swapped: list[dict[str, Any] | None] = list(trail)
    swapped[3], swapped[4] = swapped[4], swapped[3]
    assert messages(swapped) == [
        "record 4: out of order: record 5 comes before record 4",
        "record 5: out of order: record 4 comes after record 5",
    ]


def test_a_wrong_key_and_a_missing_signature(trail: list[dict[str, Any]]) -> None:
    found = messages(list(trail), key=b"wrong")
    assert len(found) == len(trail) and all("signature does not match" in m for m in found)
    bodies = [
        {k: v for k, v in r.items() if k not in ("seq", "prev", "hash", "hmac")} for r in trail
    ]
    bodies[0]["signed"] = None  # signatures stripped, chain rebuilt
    unsigned = chain(bodies)
    assert "record 1: the trail is not signed, but a key was given" in messages(list(unsigned))


def test_garbage_lines_are_reported(trail: list[dict[str, Any]]) -> None:
    text = dumps(trail).splitlines()
    text[2] = text[2][:-5]
    found = messages(parse("\n".join(text)))
    assert found[0] == "record 3: not a JSON object (edited)"
    assert json.loads(dumps(trail).splitlines()[0])["kind"] == "export"
