"""Reading executions through the Temporal API: the list (visibility, by the search attributes
the interpreter sets), one execution's runs (its history, following continue-as-new back to
the first run) and, when a worker answers, the ``nexus_state`` query.

Everything works from history alone: an execution whose worker is gone, or that closed long
ago, is shown from what its history recorded; the query only adds live detail.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from nexus_temporal.codec import EncryptionCodec, decrypt_history
from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.protocol import SA_DEFINITION, SA_STATE, SA_VERSION, STATE_QUERY
from nexus_temporal.registry import Registry
from nexus_temporal.ui.events import iso, read_runs
from nexus_temporal.ui.model import execution_view

#: The statuses the list filters on, as the API names them, and Temporal's names.
LIST_STATUSES = {
    "running": "Running",
    "succeeded": "Completed",
    "failed": "Failed",
    "canceled": "Canceled",
    "terminated": "Terminated",
    "timed_out": "TimedOut",
}
_STATUS_NAMES = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "succeeded",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "canceled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "running",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}
#: Filter values: names and versions as definitions spell them (no quotes: they go into a
#: visibility query).
_SAFE = re.compile(r"^[A-Za-z0-9 _.@:/()\[\]+-]{1,200}$")
#: Runs of one continue-as-new chain read at most.
MAX_RUNS = 100
#: How long to wait for the ``nexus_state`` query, and how long not to ask again after it
#: went unanswered (no worker): polling a worker-less execution stays fast.
QUERY_TIMEOUT = 2.0
QUERY_BACKOFF = 30.0


class FilterError(NexusTemporalError, ValueError):
    """A list filter that cannot be used (answered 400)."""


class NotFound(NexusTemporalError, LookupError):
    """No execution with that workflow id (answered 404)."""


@dataclass
class Source:
    """Where executions are read from, and how they are shown.

    Args:
        client: a connected client (its data converter decrypts query results).
        registry: the definitions, to draw each execution's graph (None: the graph of the
            states history shows).
        codec: decrypts history payloads (``--codec-keys``); None: shown encrypted.
        web_ui: the Temporal Web UI's address, for the links (empty: no links).
    """

    client: Client
    registry: Registry | None = None
    codec: EncryptionCodec | None = None
    web_ui: str = ""
    _unanswered: dict[str, float] = field(default_factory=dict)

    def web_ui_link(self, workflow_id: str, run_id: str | None = None) -> str | None:
        if not self.web_ui:
            return None
        base = self.web_ui.rstrip("/")
        ns = quote(self.client.namespace, safe="")
        link = f"{base}/namespaces/{ns}/workflows/{quote(workflow_id, safe='')}"
        return f"{link}/{quote(run_id, safe='')}/history" if run_id else link

    async def list_executions(
        self,
        *,
        definition: str | None = None,
        version: str | None = None,
        status: str | None = None,
        state: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """The newest NEXUS executions (one row per workflow id: a continue-as-new chain is
        one), filtered on the search attributes the interpreter sets."""
        clauses = []
        for key, value in (("NexusDefinition", definition), ("NexusVersion", version)):
            if value:
                clauses.append(f"{key} = '{_checked(key, value)}'")
        if state:
            clauses.append(f"NexusState = '{_checked('NexusState', state)}'")
        if status:
            if status not in LIST_STATUSES:
                raise FilterError(
                    f"unknown status '{status[:40]}': one of {', '.join(LIST_STATUSES)}"
                )
            clauses.append(f"ExecutionStatus = '{LIST_STATUSES[status]}'")
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        query = " AND ".join(clauses) or None
        async for execution in self.client.list_workflows(query, limit=limit * 2):
            attrs = execution.typed_search_attributes
            name = attrs.get(SA_DEFINITION)
            if not name or execution.id in seen:
                continue
            seen.add(execution.id)
            rows.append(
                {
                    "workflow_id": execution.id,
                    "run_id": execution.run_id,
                    "definition": name,
                    "version": attrs.get(SA_VERSION),
                    "state": attrs.get(SA_STATE),
                    "status": _STATUS_NAMES.get(execution.status, "running")
                    if execution.status is not None
                    else "running",
                    "started_at": iso(execution.start_time),
                    "closed_at": iso(execution.close_time),
                    "web_ui": self.web_ui_link(execution.id, execution.run_id),
                }
            )
            if len(rows) >= limit:
                break
        return rows

    async def runs(self, workflow_id: str) -> list[WorkflowHistory]:
        """The histories of an execution's runs, the first run first (continue-as-new
        followed back from the latest run)."""
        histories: list[WorkflowHistory] = []
        run_id: str | None = None
        try:
            while len(histories) < MAX_RUNS:
                handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
                history = await handle.fetch_history()
                histories.append(history)
                started = history.events[0].workflow_execution_started_event_attributes
                run_id = started.continued_execution_run_id or None
                if run_id is None:
                    break
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND and not histories:
                raise NotFound(f"no execution with workflow id '{workflow_id[:200]}'") from None
            if not (exc.status == RPCStatusCode.NOT_FOUND and histories):
                raise  # an earlier run past retention: show what is left
        histories.reverse()
        if self.codec is not None:
            histories = [decrypt_history(h, self.codec) for h in histories]
        return histories

    async def query_state(self, workflow_id: str) -> dict[str, Any] | None:
        """The ``nexus_state`` query's answer, or None when no worker answers in time."""
        asked = self._unanswered.get(workflow_id)
        if asked is not None and time.monotonic() - asked < QUERY_BACKOFF:
            return None
        handle = self.client.get_workflow_handle(workflow_id)
        try:
            result = await asyncio.wait_for(
                handle.query(STATE_QUERY, rpc_timeout=timedelta(seconds=QUERY_TIMEOUT)),
                QUERY_TIMEOUT + 1,
            )
        except Exception:  # no worker, a worker without the query, a closed run: history only
            self._unanswered[workflow_id] = time.monotonic()
            return None
        self._unanswered.pop(workflow_id, None)
        return result if isinstance(result, dict) else None

    async def execution(self, workflow_id: str) -> dict[str, Any]:
        """One logical execution as ``GET /api/executions/{workflow_id}`` answers it."""
        histories = await self.runs(workflow_id)
        runs: list[list[HistoryEvent]] = [list(h.events) for h in histories]
        rec = read_runs(runs)
        query = await self.query_state(workflow_id) if rec.status == "running" else None
        plan = None
        if self.registry is not None and rec.pin:
            plan = self.registry.by_hash(rec.pin["hash"])
        run_ids = [h.run_id for h in histories]
        view = execution_view(
            workflow_id,
            run_ids,
            rec,
            plan,
            query,
            self.web_ui_link(workflow_id, run_ids[-1] if run_ids else None),
        )
        for entry in view["states"]:
            for child in entry.get("children", ()):
                child["web_ui"] = self.web_ui_link(child["workflow_id"] or "")
            for shard in (entry.get("map") or {}).get("shards", ()):
                shard["web_ui"] = self.web_ui_link(shard["workflow_id"] or "")
        return view


def _checked(key: str, value: str) -> str:
    if not _SAFE.match(value):
        raise FilterError(
            f"{key}: '{value[:40]}' holds characters a filter does not accept "
            "(letters, digits, spaces and _ . @ : / ( ) [ ] + - only)"
        )
    return value
