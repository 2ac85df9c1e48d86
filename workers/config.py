"""Worker settings: what a worker serves and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from activities.config import ProvidersConfig
from nexus_temporal.client import DEFAULT_TASK_QUEUE
from workers.resilience import ResilienceSettings


@dataclass
class WorkerConfig:
    """Args:
    definitions: YAML files or directories to serve.
    task_queue: the queue to poll.
    imports: extra Python modules whose ``@nexus_temporal.function`` functions to register.
    allow_missing_activities: start even if an ``activity:`` type is not registered here
        (another worker, in any SDK language, may serve it on the queue).
    providers: cloud provider settings (aws/azure/gcp); None: read ``providers_file`` (else
        ``$NEXUS_PROVIDERS_FILE``) and the ``NEXUS_*`` environment when the worker is built.
    providers_file: the providers file (YAML or JSON), see docs/providers.md.
    policies: policy files (docs/policies.md) the definitions must comply with; none: no check.
    allow_policy_violations: serve definitions that break error-severity rules (logged).
    resilience: adaptive-retry settings (retry budget, refit interval); None: from the
        ``NEXUS_RETRY_*`` environment, else the defaults (docs/resilience.md).
    """

    definitions: list[Path] = field(default_factory=list)
    task_queue: str = DEFAULT_TASK_QUEUE
    imports: list[str] = field(default_factory=list)
    max_concurrent_activities: int = 200
    search_attributes: bool = True
    providers: ProvidersConfig | None = None
    providers_file: Path | None = None
    policies: list[Path] = field(default_factory=list)
    allow_policy_violations: bool = False
    resilience: ResilienceSettings | None = None

    def provider_settings(self) -> ProvidersConfig:
        """The provider settings this worker uses."""
        if self.providers is None:
            self.providers = ProvidersConfig.load(self.providers_file)
        return self.providers
