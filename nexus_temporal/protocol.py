"""What crosses the line between workflow code and activity code, and what clients rely on.

Both sides import this module, neither imports the other (docs/architecture.md): the names of
the activities, queries and search attributes, the dataclasses the workflow sends to
activities (recorded in history: they never hold a secret), and the error types both sides
agree on. It imports nothing but the standard library and ``temporalio.common``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from temporalio.common import SearchAttributeKey

# --- activity, workflow, query and input names --------------------------------------------

#: The activity every ``python:``, ``http(s)://`` and cloud function call goes through.
INVOKE_ACTIVITY = "nexus.invoke"
#: The local activity that resolves ``name[@version]`` once, at start, into history.
RESOLVE_ACTIVITY = "nexus.resolve_definition"
COUNT_ITEMS = "nexus.count_items"
READ_ITEMS = "nexus.read_items"
STORE_RESULTS = "nexus.store_results"
#: The child workflow type that runs one range of a map state.
SHARD_TYPE = "nexus-map-shard"
#: The query answering the current state(s), the states done and the compensations.
STATE_QUERY = "nexus_state"
#: The input key of continue-as-new state (internal: refused at a fresh start).
CONTINUE_KEY = "__nexus_continue__"
#: Where ``results: store`` writes part files when the definition names no store.
DEFAULT_STORE = ".nexus/results"

# --- search attributes ----------------------------------------------------------------------

SA_DEFINITION = SearchAttributeKey.for_keyword("NexusDefinition")
SA_VERSION = SearchAttributeKey.for_keyword("NexusVersion")
SA_STATE = SearchAttributeKey.for_keyword("NexusState")
SEARCH_ATTRIBUTES = (SA_DEFINITION, SA_VERSION, SA_STATE)

# --- error types both sides route on --------------------------------------------------------

#: The retryable error of an attempt the worker cut at its deadline (``policy: adaptive``).
ATTEMPT_TIMED_OUT = "AttemptTimedOut"
#: A call refused because its target's circuit breaker is open.
CIRCUIT_OPEN = "CircuitOpen"
#: The typed, non-retryable error raised when a target's retry budget is spent.
RETRY_BUDGET_EXHAUSTED = "RetryBudgetExhausted"

# --- what the workflow sends to activities --------------------------------------------------


@dataclass
class InvokeRequest:
    """What the workflow sends to ``nexus.invoke`` (recorded in history: never a secret)."""

    function: str
    uri: str
    payload: Any = None
    idempotency_key: str = ""
    state: str = ""
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    #: Provider options from the definition (``region``, ``qualifier``).
    options: dict[str, Any] = field(default_factory=dict)
    #: The function's ``circuit_breaker:`` settings (None: the defaults).
    circuit_breaker: dict[str, Any] | None = None
    #: The YAML ``retry.policy``: ``static`` (Temporal's schedule) or ``adaptive`` (the worker's
    #: :mod:`workers.resilience` interceptor chooses each delay).
    retry_policy: str = "static"


@dataclass
class SourceRef:
    """A map's item source: a local path or ``s3://bucket/key``, and its format."""

    path: str
    format: str | None = None

    @property
    def kind(self) -> str:
        if self.format:
            return self.format
        lower = self.path.lower()
        return "jsonl" if lower.endswith(".jsonl") else "csv" if lower.endswith(".csv") else "json"


@dataclass
class ReadItems:
    """Read ``count`` items from ``start`` of a source (one page)."""

    source: SourceRef
    start: int
    count: int


@dataclass
class StoreResults:
    """Write one JSONL part file of map results under ``store``."""

    store: str
    key: str
    start: int
    results: list[Any]
    #: When set, ``results[i]`` is the result of item ``indexes[i]`` and only those items are
    #: written (the items that ran); None: ``results[i]`` is item ``start + i``'s, all written.
    indexes: list[int] | None = None


def path_segment(text: str) -> str:
    """``text`` as one safe path segment (and S3 key segment): percent-encoded, so distinct
    texts never share a segment and none is ``.``, ``..`` or contains ``/``."""
    from urllib.parse import quote

    out = quote(text, safe="")
    return "%2E" + out[1:] if out.startswith(".") else out
