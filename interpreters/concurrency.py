"""Running several coroutines of one workflow at once (parallel branches, map workers).

Workflow code: ``workflow.wait`` keeps the ordering deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

from temporalio import workflow


async def run_all(coros: Sequence[Awaitable[Any]]) -> list[asyncio.Task[Any]]:
    """Run ``coros`` until all finish or one fails; on a failure the others are cancelled and
    waited for. Returns the tasks, in order, for the caller to read results or errors."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    if not tasks:  # workflow.wait refuses an empty set (a map over an empty list)
        return tasks
    try:
        await workflow.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        pending = [t for t in tasks if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            await workflow.wait(pending)
    return tasks


async def gather_or_raise(coros: Sequence[Awaitable[Any]]) -> None:
    """:func:`run_all`, re-raising the first failure (in the coroutines' order)."""
    for task in await run_all(coros):
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
