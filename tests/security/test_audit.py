"""Audit trails of real executions, exported and verified by the real ``nexus audit`` command,
then forged as an attacker would: a record with a key written twice (the forged value first,
for readers that keep the first; ``json`` keeps the last, so the hash and signature still
match), a trail cut short, a partial export, a trail of another workflow, and files that are
not files."""

from __future__ import annotations

import asyncio
import json
import os
import resource
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.audit import parse, record_hash, verify
from tests.helpers.processes import ROOT, nexus_cmd
from tests.helpers.run import nexus_worker, start

FNS = "python:tests.helpers.functions"
FLOW = f"""
name: audited-security
defaults:
  timeout: 10s
  retry: {{max_attempts: 1}}
functions:
  echo: {FNS}:echo
  boom: {FNS}:boom
states:
  - name: Reserve
    action: echo
    input: '{{"order": order}}'
    next: Approval
  - name: Approval
    type: wait
    signal: approve
    next: Ship
  - name: Ship
    action: boom
    input: '{{"kind": "NoCarrier"}}'
"""
KEY_ENV = {"AUDIT_KEY": "a-test-only-key"}
#: A hang guard, not a performance assertion.
TIMEOUT = 60
ADDRESS_SPACE = 2 << 30


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


async def audit(*args: str) -> tuple[int, str, str]:
    """``nexus audit ARGS`` in a fresh, memory- and time-bounded process."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    environ["PYTHONPATH"] = str(ROOT) + os.pathsep + environ.get("PYTHONPATH", "")
    environ.update(KEY_ENV)
    proc = await asyncio.create_subprocess_exec(
        *nexus_cmd("audit", *args),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ,
        preexec_fn=_bounded,
    )
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    stdout, stderr = out.decode(), err.decode()
    assert "Traceback" not in stdout + stderr, stdout + stderr
    return proc.returncode or 0, stdout, stderr


@pytest.fixture(scope="module")
async def workflows(env: WorkflowEnvironment) -> AsyncIterator[dict[str, str]]:
    """Two real executions: one that ended (approved, then failed shipping, so it has an
    error record with nested fields) and one still waiting for its approval."""
    async with nexus_worker(env.client, FLOW) as w:
        ended = await start(env.client, w, "audited-security", {"order": "o-1"})
        await ended.signal("approve", {"by": "auditor"})
        with pytest.raises(WorkflowFailureError):
            await ended.result()
        running = await start(env.client, w, "audited-security", {"order": "o-2"})
        # Wait until its first step is in history, so the partial trail has steps.
        async for event in running.fetch_history_events(wait_new_event=True):
            if event.HasField("activity_task_completed_event_attributes"):
                break
    yield {"ended": ended.id, "running": running.id}
    await running.terminate("test over")


async def export(env: WorkflowEnvironment, workflow_id: str, path: Path) -> list[str]:
    address = env.client.service_client.config.target_host
    code, _, err = await audit(
        "export", workflow_id, "--address", address, "-o", str(path), "--hmac-key-env", "AUDIT_KEY"
    )
    assert code == 0, err
    return path.read_text().splitlines()


async def verify_cli(path: Path, *flags: str) -> tuple[int, str, str]:
    return await audit("verify", str(path), "--hmac-key-env", "AUDIT_KEY", *flags)


def forge_first(line: str, key: str, value: Any, *, inside: str | None = None) -> str:
    """``line`` with ``key`` written a second time, the forged value first: in the record, or in
    its object ``inside``."""
    record = json.loads(line)
    if inside is None:
        assert key in record
        return "{" + json.dumps(key) + ": " + json.dumps(value) + ", " + line[1:]
    assert key in record[inside]
    opening = json.dumps(inside) + ": {"
    assert line.count(opening) == 1
    return line.replace(opening, opening + json.dumps(key) + ": " + json.dumps(value) + ", ")


def first_wins(line: str) -> dict[str, Any]:
    """How a reader that keeps a key's first value sees the line."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            out.setdefault(k, v)
        return out

    value: dict[str, Any] = json.loads(line, object_pairs_hook=hook)
    return value


async def test_a_duplicate_key_forgery_fails_and_names_the_record(
    env: WorkflowEnvironment, workflows: dict[str, str], tmp_path: Path
) -> None:
    trail = tmp_path / "trail.jsonl"
    lines = await export(env, workflows["ended"], trail)
    code, stdout, _ = await verify_cli(trail)
    assert code == 0 and "intact and signed" in stdout

    for n, forge in (
        # The step's kind, at the top of the record: a naive reader sees another step.
        (
            next(i for i, x in enumerate(lines) if '"activity_completed"' in x),
            lambda line: forge_first(line, "kind", "activity_failed"),
        ),
        # The failure's type, nested in the record's error: a naive reader sees another cause.
        (
            next(i for i, x in enumerate(lines) if '"activity_failed"' in x),
            lambda line: forge_first(line, "type", "Forged", inside="error"),
        ),
    ):
        forged = list(lines)
        forged[n] = forge(lines[n])
        # The attack: the reader that counts for the hash still sees the original record...
        assert json.loads(forged[n]) == json.loads(lines[n])
        assert json.loads(forged[n])["hash"] == record_hash(json.loads(forged[n]))
        # ...while one that keeps first values sees the forgery.
        assert first_wins(forged[n]) != json.loads(lines[n])
        path = tmp_path / f"forged-{n}.jsonl"
        path.write_text("\n".join(forged) + "\n")

        code, stdout, stderr = await verify_cli(path)
        assert code == 1, stdout + stderr
        assert f"{path}: record {n + 1}: duplicate key " in stdout, stdout
        assert "NOT intact" in stderr

        code, stdout, _ = await verify_cli(path, "--json")
        report = json.loads(stdout)
        assert code == 1 and report["intact"] is False and report["ok"] is False
        assert report["workflow_id"] == workflows["ended"]
        assert [p["record"] for p in report["problems"]] == [n + 1]
        assert "duplicate key" in report["problems"][0]["message"]


async def test_a_truncated_trail_is_incomplete_and_names_the_workflow(
    env: WorkflowEnvironment, workflows: dict[str, str], tmp_path: Path
) -> None:
    lines = await export(env, workflows["ended"], tmp_path / "trail.jsonl")
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:-2]) + "\n")
    code, stdout, stderr = await verify_cli(cut)
    assert code == 1
    assert f"records {len(lines) - 1}-{len(lines)} at the end removed" in stdout
    assert f"workflow '{workflows['ended']}', 1 run: INCOMPLETE: records are missing" in stdout
    assert "INCOMPLETE" in stderr

    code, stdout, _ = await verify_cli(cut, "--json")
    report = json.loads(stdout)
    assert report["workflow_id"] == workflows["ended"]
    assert report["complete"] is False and report["all_records_present"] is False
    assert report["declared_records"] == len(lines) and report["records"] == len(lines) - 2


async def test_a_partial_export_warns_and_fails_when_completeness_is_required(
    env: WorkflowEnvironment, workflows: dict[str, str], tmp_path: Path
) -> None:
    trail = tmp_path / "running.jsonl"
    await export(env, workflows["running"], trail)
    code, stdout, stderr = await verify_cli(trail)
    assert code == 0, stdout + stderr  # intact: a partial trail is not a forged one
    assert "intact and signed" in stdout
    expected = f"workflow '{workflows['running']}', 1 run: INCOMPLETE: the workflow was still"
    assert expected in stdout
    assert "warning:" in stderr and "--require-complete" in stderr

    code, stdout, stderr = await verify_cli(trail, "--require-complete")
    assert code == 1 and "incomplete, and --require-complete was given" in stderr

    code, stdout, _ = await verify_cli(trail, "--json")
    report = json.loads(stdout)
    assert code == 0 and report["intact"] is True and report["ok"] is True
    assert report["workflow_id"] == workflows["running"] and len(report["runs"]) == 1
    assert report["complete"] is False and report["workflow_ended"] is False


async def test_a_complete_trail_says_so_and_whose_it_is(
    env: WorkflowEnvironment, workflows: dict[str, str], tmp_path: Path
) -> None:
    trail = tmp_path / "ended.jsonl"
    await export(env, workflows["ended"], trail)
    code, stdout, stderr = await verify_cli(
        trail, "--require-complete", "--workflow-id", workflows["ended"]
    )
    assert code == 0, stdout + stderr
    assert f"workflow '{workflows['ended']}', 1 run: complete" in stdout
    assert "warning" not in stderr

    # A genuine, signed trail of another workflow is not this workflow's trail.
    code, _, stderr = await verify_cli(trail, "--workflow-id", workflows["running"])
    assert code == 1
    assert f"of workflow '{workflows['ended']}', not '{workflows['running']}'" in stderr


async def test_records_of_another_workflow_are_caught(
    env: WorkflowEnvironment, workflows: dict[str, str], tmp_path: Path
) -> None:
    ours = [json.loads(x) for x in await export(env, workflows["ended"], tmp_path / "a.jsonl")]
    theirs = [json.loads(x) for x in await export(env, workflows["running"], tmp_path / "b.jsonl")]
    spliced: list[Any] = [*ours[:2], theirs[2], *ours[3:]]
    found = [str(p) for p in verify(spliced)]
    assert f"record 3: belongs to workflow '{workflows['running']}', not " in found[0]


async def test_files_that_are_not_trails_are_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.jsonl")
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    for name, kind in (("fifo.jsonl", "a FIFO"), ("zero.jsonl", "a symlink to a character")):
        code, _, stderr = await verify_cli(tmp_path / name)
        assert code == 2
        assert f"cannot read {tmp_path / name}: not a regular file: {kind}" in stderr
    big = tmp_path / "big.jsonl"
    big.write_text("{}\n" * 100)
    code, _, stderr = await verify_cli(big, "--max-bytes", "100")
    assert code == 2 and "file larger than 100 bytes" in stderr


def test_parse_reports_duplicates_at_any_depth() -> None:
    lines = parse('{"a": 1}\n\n{"a": {"b": [{"c": 1, "c": 2}]}}\n{"seq": 1, "seq": 1}\n')
    assert len(lines) == 3
    found = [str(p) for p in verify(lines)]
    assert "record 2: duplicate key 'c': readers disagree on its value (edited)" in found
    assert "record 3: duplicate key 'seq': readers disagree on its value (edited)" in found
    # Python's int digit limit: a ValueError that is not a JSONDecodeError.
    found = [str(p) for p in verify(parse('{"n": ' + "9" * 5000 + "}\n"))]
    assert "record 1: a number too long to read (edited)" in found
