"""Worker settings: what a worker serves and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nexus_temporal.client import DEFAULT_TASK_QUEUE


@dataclass
class WorkerConfig:
    """Args:
    definitions: YAML files or directories to serve.
    task_queue: the queue to poll.
    imports: extra Python modules whose ``@nexus_temporal.function`` functions to register.
    allow_missing_activities: start even if an ``activity:`` type is not registered here
        (another worker, in any SDK language, may serve it on the queue).
    """

    definitions: list[Path] = field(default_factory=list)
    task_queue: str = DEFAULT_TASK_QUEUE
    imports: list[str] = field(default_factory=list)
    max_concurrent_activities: int = 200
    search_attributes: bool = True
