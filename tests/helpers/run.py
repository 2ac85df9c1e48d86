"""Run inline NEXUS YAML against a real Temporal server in tests."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.config import ProvidersConfig
from nexus_temporal.dsl.compiler import compile_text
from nexus_temporal.registry import Registry
from workers.config import WorkerConfig
from workers.main import build_worker


def registry_of(*texts: str) -> Registry:
    return Registry(
        [compile_text(textwrap.dedent(t), f"inline-{i}.yaml") for i, t in enumerate(texts)]
    )


@asynccontextmanager
async def nexus_worker(
    client: Client,
    *texts: str,
    search_attributes: bool = True,
    extra_activities: tuple[Any, ...] = (),
    providers: ProvidersConfig | None = None,
) -> AsyncIterator[Worker]:
    """A worker on a fresh task queue serving the given inline definitions (``providers``:
    its cloud provider settings; default none configured)."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    config = WorkerConfig(
        task_queue=queue,
        search_attributes=search_attributes,
        providers=providers or ProvidersConfig(),
    )
    worker = build_worker(
        client, config, registry_of(*texts), extra_activities=list(extra_activities)
    )
    async with worker:
        yield worker


async def start(
    client: Client, worker: Worker, reference: str, data: Any = None, **kwargs: Any
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        reference,
        data if data is not None else {},
        id=f"t-{uuid.uuid4().hex[:12]}",
        task_queue=worker.task_queue,
        **kwargs,
    )


async def execute(client: Client, worker: Worker, reference: str, data: Any = None) -> Any:
    handle = await start(client, worker, reference, data)
    return await handle.result()
