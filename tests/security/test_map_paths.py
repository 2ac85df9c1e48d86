"""Attacks on map I/O: a forged ``nexus-map-shard`` start that reads a worker file, and
workflow ids that try to place result part files outside the result store. The defences
themselves: literal item sources, configured roots, regular files only, no traversal."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.items import ItemAccess, path_segment
from interpreters.states.map import SHARD_TYPE
from tests.helpers.run import nexus_worker, registry_of
from tests.security.test_continuation import scheduled_activities, temporal

FNS = "python:tests.helpers.security_functions"


def sourced_map(source: Path) -> str:
    return f"""
name: sourced-map
functions:
  item: {FNS}:item
states:
  - name: Each
    type: map
    item_source: {source}
    action: item
"""


async def test_forged_shard_cannot_read_a_worker_file(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text('{"n": 1}\n')
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"password": "hunter2"}\n')
    text = sourced_map(source)
    plan = registry_of(text).plans[0]
    async with nexus_worker(env.client, text) as w:
        for source_path in (str(secret), "/etc/passwd"):
            wid = f"forged-shard-{uuid.uuid4().hex[:8]}"
            job = {
                "pin": plan.hash, "state": "Each", "root_id": wid, "visit": 1, "total": 1,
                "start": 0, "end": 1, "tolerated": 0, "data": {},
                "source": {"path": source_path, "format": "jsonl"},
            }  # fmt: skip
            out = temporal(
                env,
                "workflow", "start", "--type", SHARD_TYPE, "--task-queue", w.task_queue,
                "--workflow-id", wid, "--input", json.dumps(job),
            )  # fmt: skip
            assert out.returncode == 0, out.stderr
            handle = env.client.get_workflow_handle(wid)
            with pytest.raises(WorkflowFailureError) as info:
                await asyncio.wait_for(handle.result(), 60)
            cause = info.value.cause
            assert isinstance(cause, ApplicationError) and cause.type == "InvalidShard"
            assert "cannot be started directly" in cause.message
            assert await scheduled_activities(handle) == []
            history = json.dumps((await handle.fetch_history()).to_json_dict())
            assert "hunter2" not in history and "root:" not in history


STORED = f"""
name: stored-map
functions:
  item: {FNS}:item
states:
  - name: Each
    type: map
    items: items
    action: item
    results: store
    result_store: {{store}}
"""


@pytest.mark.parametrize("prefix", ["../../escape-", "/tmp/nexus-abs-", "..%2F", ".hidden-"])
async def test_workflow_ids_cannot_place_results_outside_the_store(
    env: WorkflowEnvironment, tmp_path: Path, prefix: str
) -> None:
    store = tmp_path / "deep" / "store"
    store.mkdir(parents=True)
    wid = f"{prefix}{uuid.uuid4().hex[:8]}"
    async with nexus_worker(env.client, STORED.format(store=store)) as w:
        handle = await env.client.start_workflow(
            "stored-map", {"items": [1, 2, 3]}, id=wid, task_queue=w.task_queue
        )
        result = await asyncio.wait_for(handle.result(), 60)
    manifest = result["Each"]
    assert manifest["prefix"].split("/")[0] == path_segment(wid)
    parts = [p for p in store.rglob("*") if p.is_file()]
    assert len(parts) == 1 and parts[0].resolve().is_relative_to(store.resolve())
    lines = [json.loads(x) for x in parts[0].read_text().splitlines()]
    assert [x["result"] for x in lines] == [{"seen": 1}, {"seen": 2}, {"seen": 3}]
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(store)]
    assert outside == []
    assert not list(Path("/tmp").glob(f"{wid.split('/')[-1]}*"))


def test_path_segment_is_one_injective_segment() -> None:
    for text in ["../x", "/etc", ".", "..", "a/b", "a%2Fb", "a:b", "a_b", "x" * 3]:
        seg = path_segment(text)
        assert "/" not in seg and seg not in (".", "..") and not seg.startswith(".")
    assert path_segment("a/b") != path_segment("a%2Fb")
    assert path_segment("order-123_A.b") == "order-123_A.b"  # plain ids keep their name


def _refusal(call: Any) -> str:
    with pytest.raises(ApplicationError) as info:
        call()
    assert info.value.type == "PathNotAllowed" and info.value.non_retryable
    return info.value.message


def test_item_sources_literal_or_under_roots_regular_files_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    inside = root / "items.jsonl"
    inside.write_text("{}\n")
    literal = tmp_path / "named.jsonl"
    literal.write_text("{}\n")
    outside = tmp_path / "outside.jsonl"
    outside.write_text("{}\n")
    (root / "escape.jsonl").symlink_to(outside)
    (root / "zero.jsonl").symlink_to("/dev/zero")
    os.mkfifo(root / "fifo.jsonl")
    access = ItemAccess.of([str(literal)], roots=[str(root)])
    access.check_source(str(literal))  # named by a definition
    access.check_source(str(inside))  # under a configured root
    assert "no definition names it" in _refusal(lambda: access.check_source(str(outside)))
    for name in ("escape.jsonl", "../outside.jsonl"):
        _refusal(lambda n=name: access.check_source(str(root / n)))  # type: ignore[misc]
    _refusal(lambda: access.check_source(str(root / "zero.jsonl")))  # leaves the root
    assert "not a regular file" in _refusal(lambda: access.check_source(str(root / "fifo.jsonl")))
    device = tmp_path / "device.jsonl"
    device.symlink_to("/dev/zero")
    named = ItemAccess.of([str(device)])
    assert "not a regular file" in _refusal(lambda: named.check_source(str(device)))
    assert "no definition names it" in _refusal(lambda: access.check_source("/etc/passwd"))
    s3 = ItemAccess.of(["s3://b/named.jsonl"], roots=["s3://b/in/"])
    s3.check_source("s3://b/named.jsonl")
    s3.check_source("s3://b/in/x.jsonl")
    _refusal(lambda: s3.check_source("s3://b/other.jsonl"))
    _refusal(lambda: s3.check_source("s3://b/in/../other.jsonl"))


def test_roots_come_from_the_operator_environment(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[]")
    access = ItemAccess.of([], environ={"NEXUS_ITEM_ROOTS": f"{tmp_path}{os.pathsep}s3://b/x"})
    access.check_source(str(tmp_path / "a.json"))
    assert ItemAccess.of([], environ={}).roots == ()


def test_result_keys_stay_in_their_store(tmp_path: Path) -> None:
    access = ItemAccess.of([], stores=[str(tmp_path), "s3://bucket/out"])
    access.check_store(str(tmp_path), "wf/Each/part-0000000000.jsonl")
    access.check_store("s3://bucket/out", "wf/Each/part-0000000000.jsonl")
    for key in ("../x.jsonl", "/etc/x", "a/../../x", "a//b", "a\\b"):
        _refusal(lambda k=key: access.check_store(str(tmp_path), k))  # type: ignore[misc]
        _refusal(lambda k=key: access.check_store("s3://bucket/out", k))  # type: ignore[misc]
    assert "no definition names it" in _refusal(lambda: access.check_store("/etc", "x"))
    (tmp_path / "link").symlink_to("/tmp")
    _refusal(lambda: access.check_store(str(tmp_path), "link/x.jsonl"))
