"""What happens in a map state: every item runs one action (or batch) or a sequence of states.

Small maps run inline. Bigger ones are split into child workflows (type ``nexus-map-shard``),
as a tree when needed, so that no execution ever has more than ``LEAF_UNITS`` units of its own
work (about 6 history events each) or more than ``FANOUT`` children: every history stays far
below 10,240 events and pending work per execution stays bounded, whatever the item count.
Items are processed in index order; each item's idempotency key is
``<root workflow id>/<state>/<index>``, stable across retries, crashes and replays.

Failed items beyond ``tolerated_failures`` fail the map with ``MapToleranceExceeded``; with
``on_item_failure: item_error`` and no tolerance, with the failed item of the lowest index
instead (its type, message, details). That mode keeps the lowest-index failures in the
summary and records each failure's details; it needs no ``workflow.patched`` guard, as only
definitions that set the field (a new content hash) use it. Likewise ``batch_item_errors``:
a batch result may fail single items (``ITEM_ERROR``), each counted as one failure.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ParentClosePolicy

from interpreters.concurrency import gather_or_raise
from interpreters.context import Outcome, PendingCompensation, RunContext
from interpreters.errors import NexusError, from_temporal
from interpreters.redrive import earlier_map_units, earlier_slice
from interpreters.states.data import evaluate, evaluate_bound, store
from interpreters.states.task import call_action
from nexus_temporal.dsl.compiler import tolerated
from nexus_temporal.dsl.schema import ItemSource, MapState, RetrySpec
from nexus_temporal.payloads import json_size
from nexus_temporal.protocol import (
    COUNT_ITEMS,
    DEFAULT_STORE,
    READ_ITEMS,
    SHARD_TYPE,
    STORE_RESULTS,
    ReadItems,
    SourceRef,
    StoreResults,
    path_segment,
)

#: ``workflow.patched`` id: result part files under the encoded workflow id (``_prefix``).
SAFE_PREFIX_PATCH = "nexus-safe-result-prefix"
#: ``workflow.patched`` id: part files hold only the items that ran; the manifest (and the
#: MapToleranceExceeded details) count ``completed`` and ``not_run`` items.
RAN_ONLY_PATCH = "nexus-map-store-ran-items"
#: Units (items, or batches) one execution runs itself: ~6 events each stays under 10,240.
LEAF_UNITS = 1000
#: Children one execution starts at most (~6 events each).
FANOUT = 500
#: Maps up to this many units run inline in the workflow that reaches them.
INLINE_UNITS = 200
#: Items read per activity call from an item source.
PAGE = 1000
#: Failures kept in detail (the rest are counted).
KEEP_FAILURES = 20
#: Payload budget for anything a map returns into history (Temporal's limit is 2 MB).
PAYLOAD_BUDGET = 1_500_000
IO_TIMEOUT = timedelta(minutes=2)
IO_RETRY = RetryPolicy(maximum_attempts=5)


@dataclass
class MapJob:
    """Everything a shard needs to run a range of a map, passed as the child's input."""

    pin: str
    state: str
    root_id: str
    visit: int
    total: int
    start: int
    end: int
    tolerated: int
    data: Any
    items: list[Any] | None = None
    source: dict[str, Any] | None = None
    #: Result part files go under the workflow id encoded as one path segment
    #: (``path_segment``); False for maps started before that (their parts stay where the
    #: first ones went).
    safe_prefix: bool = False
    #: Part files hold only the items that ran (False for maps started before that: a line
    #: per item, ``null`` for items that never ran).
    ran_only: bool = False
    #: Redrive: ``{unit start index: result}`` of the units an earlier run completed (read by
    #: the worker from that run's history, interpreters/redrive.py); they are not run again.
    prior: dict[str, Any] | None = None


@dataclass
class Summary:
    count: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    results: list[Any] | None = None
    parts: int = 0
    compensations: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: Summary, *, by_index: bool = False) -> None:
        self.count += other.count
        self.failed += other.failed
        self.failures = _kept(self.failures + other.failures, by_index)
        if self.results is not None and other.results is not None:
            self.results.extend(other.results)
        self.parts += other.parts
        self.compensations.extend(other.compensations)


def _kept(failures: list[dict[str, Any]], by_index: bool) -> list[dict[str, Any]]:
    """The failures a summary keeps: the first ``KEEP_FAILURES`` recorded, or (``by_index``)
    those of the lowest item indexes."""
    if by_index:
        failures = sorted(failures, key=lambda f: int(f["index"]))
    return failures[:KEEP_FAILURES]


def _item_errors(state: MapState) -> bool:
    """``on_item_failure: item_error`` applies: no failure is tolerated."""
    if state.on_item_failure != "item_error":
        return False
    tolerance = state.tolerated_failures
    if isinstance(tolerance, str):
        text = tolerance.strip().rstrip("%").strip()
        return float(text or 0) == 0
    return tolerance == 0


def source_of(state: MapState) -> dict[str, Any] | None:
    src = state.item_source
    if src is None:
        return None
    spec = ItemSource(path=src) if isinstance(src, str) else src
    return {"path": spec.path, "format": spec.format}


def _cost(state: MapState) -> int:
    """History units one item costs: one per state it may run (at least one)."""
    return max(1, len(state.states or ()))


async def run(state: MapState, data: Any, ctx: RunContext) -> Outcome:
    source = source_of(state)
    items: list[Any] | None = None
    if state.items is not None:
        value = evaluate(state.items, data, ctx, data, state.name)
        if value is None:
            value = []
        if not isinstance(value, list):
            value = [value]  # JSONata returns a lone match as a single value
        items, total = value, len(value)
    else:
        assert source is not None
        total = await workflow.execute_activity(
            COUNT_ITEMS,
            SourceRef(**source),
            start_to_close_timeout=IO_TIMEOUT,
            retry_policy=IO_RETRY,
            summary=f"{state.name}: count items",
            result_type=int,
        )
    prior = await earlier_map_units(state.name, ctx.visits.get(state.name, 1))
    job = MapJob(
        prior=prior or None,
        safe_prefix=workflow.patched(SAFE_PREFIX_PATCH),
        ran_only=workflow.patched(RAN_ONLY_PATCH),
        pin=ctx.plan.hash,
        state=state.name,
        root_id=workflow.info().workflow_id,
        visit=ctx.visits.get(state.name, 1),
        total=total,
        start=0,
        end=total,
        tolerated=tolerated(state.tolerated_failures, total),
        data=data,
        items=items,
        source=source,
    )
    summary = await run_range(state, job, ctx)
    try:
        ctx.compensations.extend(
            PendingCompensation.from_plan(c, ctx.plan) for c in summary.compensations
        )
    except ValueError as exc:
        raise NexusError("InvalidShardResult", f"a shard returned {exc}", state.name) from None
    if summary.failed > job.tolerated and _item_errors(state) and summary.failures:
        item = min(summary.failures, key=lambda f: int(f["index"]))
        raise NexusError(
            str(item["type"]),
            str(item["message"]),
            state.name,
            item.get("details"),
            cause=item.get("cause"),
        )
    counts = {
        "completed": summary.count - summary.failed,
        "failed": summary.failed,
        "not_run": total - summary.count,
    }
    stored = {
        "store": state.result_store or DEFAULT_STORE,
        "prefix": _prefix(job),
        "parts": summary.parts,
    }
    if summary.failed > job.tolerated:
        first = sorted(summary.failures, key=lambda f: int(f["index"]))[:5]
        listed = ", ".join(f"item {f['index']}: {f['type']}: {f['message']}" for f in first)
        stopped = f", stopped after {summary.count} items" if summary.count < total else ""
        details: dict[str, Any] = {
            "failed": summary.failed,
            "total": total,
            "failures": summary.failures,
        }
        if job.ran_only:
            details.update(counts)
            if state.results == "store":
                details.update(stored)
        raise NexusError(
            "MapToleranceExceeded",
            f"{summary.failed} of {total} items failed (tolerated {job.tolerated}{stopped}); "
            f"{listed}",
            state.name,
            details,
        )
    if state.results == "collect":
        result: Any = summary.results
        size = json_size(result)
        if size > PAYLOAD_BUDGET:
            raise NexusError(
                "PayloadTooLarge",
                f"the collected results are {size / 1e6:.1f} MB, over Temporal's 2 MB "
                "payload limit; use 'results: store' (or 'discard')",
                state.name,
            )
    elif state.results == "store":
        result = {**stored, "items": total, "failed": summary.failed}
        if job.ran_only:
            result.update(counts)
        result["failures"] = summary.failures
    else:
        result = {"items": total, "failed": summary.failed, "failures": summary.failures}
    return Outcome(store(state.name, result, state.output, state.assign, data, ctx), state.next)


def _prefix(job: MapJob) -> str:
    visit = f"/{job.visit}" if job.visit > 1 else ""
    if job.safe_prefix:
        # The workflow id is the starter's choice: one encoded segment, so '../x' or '/etc'
        # cannot place part files outside the store (the activity checks it too).
        return f"{path_segment(job.root_id)}/{path_segment(job.state)}{visit}"
    return f"{job.root_id}/{job.state}{visit}".replace(":", "_")


async def run_range(state: MapState, job: MapJob, ctx: RunContext) -> Summary:
    """Run items [start, end): here if small enough, else through child workflows."""
    units = math.ceil((job.end - job.start) / state.batch)
    limit = LEAF_UNITS if workflow.info().workflow_type == SHARD_TYPE else INLINE_UNITS
    if units * _cost(state) <= limit:
        return await _run_here(state, job, ctx)
    return await _fan_out(state, job, ctx)


def _progress(ctx: RunContext, job: MapJob) -> dict[str, int]:
    return ctx.maps.setdefault(job.state, {"done": 0, "failed": 0, "total": job.total})


def _show(name: str, progress: dict[str, int]) -> None:
    """The Web UI's 'current details' of the execution running the map."""
    workflow.set_current_details(
        f"**Map** `{name}`: {progress['done'] + progress['failed']}/{progress['total']} items "
        f"({progress['failed']} failed)"
    )


async def _fan_out(state: MapState, job: MapJob, ctx: RunContext) -> Summary:
    leaf_items = max(1, LEAF_UNITS // _cost(state)) * state.batch
    span = max(leaf_items, math.ceil((job.end - job.start) / FANOUT / leaf_items) * leaf_items)
    ranges = [(s, min(s + span, job.end)) for s in range(job.start, job.end, span)]
    per_leaf = min(state.max_concurrency, max(1, LEAF_UNITS // _cost(state)))
    parallel = max(1, min(FANOUT, state.max_concurrency // per_leaf))
    progress = _progress(ctx, job)
    summaries: list[Summary | None] = [None] * len(ranges)
    next_child = 0

    async def worker() -> None:
        nonlocal next_child
        while next_child < len(ranges):
            i = next_child
            next_child += 1
            start, end = ranges[i]
            child = MapJob(
                **{
                    **asdict(job),
                    "start": start,
                    "end": end,
                    "items": None
                    if job.items is None
                    else job.items[start - job.start : end - job.start],
                    "prior": earlier_slice(job.prior, start, end),
                }
            )
            visit = f"/{job.visit}" if job.visit > 1 else ""
            try:
                raw = await workflow.execute_child_workflow(
                    SHARD_TYPE,
                    asdict(child),
                    id=f"{workflow.info().workflow_id}/{job.state}{visit}/{start}-{end}",
                    task_queue=workflow.info().task_queue,
                    parent_close_policy=ParentClosePolicy.TERMINATE,
                    static_summary=f"{job.state}: items {start}..{end - 1}",
                )
            except Exception as exc:
                raise from_temporal(exc, state.name) from None
            done = Summary(**raw)
            summaries[i] = done
            progress["done"] += done.count - done.failed
            progress["failed"] += done.failed
            _show(job.state, progress)

    await gather_or_raise([worker() for _ in range(min(parallel, len(ranges)))])
    total = Summary(results=[] if state.results == "collect" else None)
    for s in summaries:
        assert s is not None
        total.merge(s, by_index=_item_errors(state))
    return total


async def _items(job: MapJob, state: MapState) -> list[Any]:
    if job.items is not None:
        return job.items
    assert job.source is not None
    out: list[Any] = []
    for start in range(job.start, job.end, PAGE):
        page = await workflow.execute_activity(
            READ_ITEMS,
            ReadItems(SourceRef(**job.source), start, min(PAGE, job.end - start)),
            start_to_close_timeout=IO_TIMEOUT,
            retry_policy=IO_RETRY,
            summary=f"{state.name}: read items {start}..",
            result_type=list,
        )
        out.extend(page)
    return out


async def _run_here(state: MapState, job: MapJob, ctx: RunContext) -> Summary:
    items = await _items(job, state)
    batch = state.batch
    units = [(i, items[i : i + batch]) for i in range(0, len(items), batch)]
    results: list[Any] = [None] * len(items)
    ran = [False] * len(items)  # the items that ran (completed or failed)
    summary = Summary()
    progress = _progress(ctx, job)
    scope = ctx.plan.scopes.get(f"{state.name}/item")
    next_unit = 0
    before = len(ctx.compensations)
    item_errors = _item_errors(state)

    async def one(offset: int, chunk: list[Any]) -> None:
        index = job.start + offset
        key = (
            f"{job.root_id}/{job.state}/{index}"
            if batch == 1
            else (f"{job.root_id}/{job.state}/{index}-{index + len(chunk) - 1}")
        )
        if job.visit > 1:
            key += f"/v{job.visit}"
        subject = chunk[0] if batch == 1 else chunk
        bindings_data = job.data
        failed: dict[int, NexusError] = {}  # positions in the chunk a batch reported failed
        try:
            if state.input is not None:
                payload = evaluate_item(state, subject, index, bindings_data, ctx)
            else:
                payload = subject
            if scope is not None:
                item_data = (
                    payload if isinstance(payload, dict) else {"item": payload, "index": index}
                )
                out = [await ctx.walk(scope, item_data)]
            else:
                assert state.action is not None
                earlier = (job.prior or {}).get(str(index), _NOT_RUN)
                if earlier is not _NOT_RUN and state.batch_item_errors and batch > 1:
                    if not isinstance(earlier, list) or any(_marked(r, state) for r in earlier):
                        earlier = _NOT_RUN  # a batch with failed items runs again
                res = (
                    earlier
                    if earlier is not _NOT_RUN
                    else await call_action(
                        ctx,
                        state=state.name,
                        action=state.action,
                        payload=payload,
                        retry=state.retry if isinstance(state.retry, RetrySpec) else RetrySpec(),
                        timeout=state.timeout,
                        schedule_to_close=None,
                        heartbeat=None,
                        task_queue=state.task_queue,
                        # No per-item summary: it is a payload per item in history (measured ~10%
                        # of fan-out throughput); the shard's summary names the state and range.
                        summary=None,
                        key=key,
                        express=state.mode == "express",
                    )
                )
                if batch == 1:
                    out = [res]
                elif isinstance(res, list) and len(res) == len(chunk):
                    out = res
                    if state.batch_item_errors:
                        failed = {k: e for k, r in enumerate(out) if (e := _marked(r, state))}
                else:
                    raise NexusError(
                        "BatchResultMismatch",
                        f"a batch of {len(chunk)} items returned "
                        f"{type(res).__name__} instead of a list of {len(chunk)}",
                        state.name,
                    )
            for k, r in enumerate(out):
                if k not in failed:
                    results[offset + k] = r
                    ran[offset + k] = True
            summary.count += len(chunk) - len(failed)
            progress["done"] += len(chunk) - len(failed)
            for k, item_err in failed.items():
                fail(offset + k, index + k, item_err)
            _show(job.state, progress)
        except NexusError as err:
            for k in range(len(chunk)):
                fail(offset + k, index + k, err)
            _show(job.state, progress)

    def fail(position: int, index: int, err: NexusError) -> None:
        summary.count += 1
        summary.failed += 1
        progress["failed"] += 1
        results[position] = {"error": {"type": err.type, "message": err.message}}
        ran[position] = True
        failure: dict[str, Any] = {"index": index, "type": err.type, "message": err.message}
        if item_errors:
            # the whole error, for the map to fail with; the lowest indexes are kept
            if err.details is not None:
                failure["details"] = err.details
            if err.cause is not None:
                failure["cause"] = err.cause
            summary.failures = _kept([*summary.failures, failure], by_index=True)
        elif len(summary.failures) < KEEP_FAILURES:
            summary.failures.append(failure)

    async def worker() -> None:
        nonlocal next_unit
        while next_unit < len(units) and summary.failed <= job.tolerated:
            offset, chunk = units[next_unit]
            next_unit += 1
            await one(offset, chunk)

    await gather_or_raise([worker() for _ in range(min(state.max_concurrency, len(units)))])
    if state.results == "collect":
        summary.results = results
    elif state.results == "store" and items:
        request = StoreResults(
            store=state.result_store or DEFAULT_STORE,
            key=f"{_prefix(job)}/part-{job.start:010d}.jsonl",
            start=job.start,
            results=results,
        )
        if job.ran_only:  # no line for an item that never ran
            request.results = [r for r, did in zip(results, ran, strict=True) if did]
            request.indexes = [job.start + k for k, did in enumerate(ran) if did]
        await workflow.execute_activity(
            STORE_RESULTS,
            request,
            start_to_close_timeout=IO_TIMEOUT,
            retry_policy=IO_RETRY,
            summary=f"{state.name}: store results {job.start}..",
            result_type=dict,
        )
        summary.parts = 1
    if workflow.info().workflow_type == SHARD_TYPE:
        # A shard hands the compensations its items registered back to the parent.
        summary.compensations = [c.to_json() for c in ctx.compensations[before:]]
        del ctx.compensations[before:]
    return summary


#: Not in ``MapJob.prior``: the unit runs.
_NOT_RUN = object()
#: The key of an item's error in a batch result (``batch_item_errors: true``).
ITEM_ERROR = "__nexus_item_error__"


def _marked(result: Any, state: MapState) -> NexusError | None:
    """The item error a batch result reports at an item's position, if it is one:
    ``{"__nexus_item_error__": {"type": ..., "message": ..., "details": ...}}``."""
    if not (isinstance(result, dict) and len(result) == 1 and ITEM_ERROR in result):
        return None
    spec = result[ITEM_ERROR]
    if not isinstance(spec, dict):
        spec = {"message": spec}
    return NexusError(
        str(spec.get("type") or "ItemError"),
        str(spec.get("message") or ""),
        state.name,
        spec.get("details"),
    )


def evaluate_item(state: MapState, subject: Any, index: int, data: Any, ctx: RunContext) -> Any:
    return evaluate_bound(state.input, subject, ctx.bindings(data, index=index), ctx, state.name)
