"""Replay recorded histories against the current interpreter and a set of definitions.

A history replays cleanly when the interpreter, given the definition the execution pinned,
issues exactly the commands history recorded. This is what catches an interpreter change (or a
definition changed in place) that would break executions already in flight.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from interpreters.workflow import NexusWorkflow, bind, unbind
from nexus_temporal.registry import Registry

REPLAY_NAMESPACE = "ReplayNamespace"


@dataclass
class ReplayReport:
    workflow_id: str
    ok: bool
    problem: str | None = None


def load_history(path: str | Path) -> WorkflowHistory:
    """A history exported as JSON (``temporal workflow show --output json`` or our recorder)."""
    p = Path(path)
    raw = json.loads(p.read_text())
    return WorkflowHistory.from_json(raw.get("workflowId", p.stem), raw)


async def replay(histories: Sequence[WorkflowHistory], registry: Registry) -> list[ReplayReport]:
    """Replay each history; never raises for an incompatible history, reports it instead."""
    namespace = f"{REPLAY_NAMESPACE}-{uuid.uuid4().hex[:8]}"  # one registry per replay run
    bind(namespace, "*", registry)
    replayer = Replayer(workflows=[NexusWorkflow], namespace=namespace)

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    try:
        results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
    finally:
        unbind(namespace, "*")
    reports = []
    for history in histories:
        failure = results.replay_failures.get(history.run_id)
        reports.append(
            ReplayReport(
                history.workflow_id, failure is None, None if failure is None else str(failure)
            )
        )
    return reports
