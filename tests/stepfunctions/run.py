"""Convert ASL and run it on the real Temporal dev server with stub functions."""

from __future__ import annotations

import json
import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle

from nexus_temporal.stepfunctions import Conversion, convert_asl, retarget
from tests.helpers.run import nexus_worker, start

STUBS = "python:tests.stepfunctions.stubs"


def converted(asl: dict[str, Any], targets: dict[str, str], name: str | None = None) -> str:
    """The NEXUS YAML of ``asl`` with ``targets`` = {function key: stub function name}."""
    name = name or f"sfn-{uuid.uuid4().hex[:8]}"
    conversion: Conversion = convert_asl(json.dumps(asl), name=name)
    return retarget(conversion.yaml_text, {k: f"{STUBS}:{v}" for k, v in targets.items()})


async def run_asl(
    client: Client, asl: dict[str, Any], data: Any, targets: dict[str, str] | None = None
) -> Any:
    """Convert, serve and execute ``asl`` with ``data``; return the workflow result."""
    text = converted(asl, targets or {}, name="sfn-under-test")
    async with nexus_worker(client, text) as worker:
        handle: WorkflowHandle[Any, Any] = await start(client, worker, "sfn-under-test", data)
        return await handle.result()
