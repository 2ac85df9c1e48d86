"""What redrive and rerun pass between workflow code and the worker's lineage activities.

Both sides import this module (like :mod:`nexus_temporal.protocol`); it imports nothing but the
standard library. The activities read the histories of earlier runs on the Temporal server
(trusted data); nothing in these requests can name data the server did not record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The activity that lists the compensations completed in the runs a run was reset from.
LINEAGE_COMPENSATIONS = "nexus.lineage_compensations"
#: The activity that lists a map's units that succeeded in the runs a run was reset from.
LINEAGE_MAP_ITEMS = "nexus.lineage_map_items"
#: The activity that proves a rerun's source and reads the data recorded at its state.
RERUN_SOURCE = "nexus.rerun_source"
#: The input key of a rerun request (``nexus rerun``); its data comes from the source's history.
RERUN_KEY = "__nexus_rerun__"
#: The error type of a rerun the worker refuses (no such source, state not reached...).
REFUSED = "RerunRefused"
#: The worker environment variable that lets a rerun replace the recorded data (opt-in).
ALLOW_RERUN_INPUT = "NEXUS_ALLOW_RERUN_INPUT"


@dataclass
class LineageRequest:
    """The run asking (its own ids, from workflow info) and, for maps, which map visit."""

    workflow_id: str
    run_id: str
    state: str = ""
    visit: int = 1


@dataclass
class RerunRequest:
    """A rerun's source execution and state, as the rerun's start input names them."""

    workflow_id: str
    run_id: str | None
    state: str
    has_input: bool = False
    input: Any = None


@dataclass
class RerunSource:
    """What the worker read from the source's history: its pin, the execution input as given,
    and the data the state was entered with (or the given input, when the worker allows it)."""

    pin: dict[str, str]
    state: str
    data: Any
    input: Any
    run_id: str
    notes: list[str] = field(default_factory=list)
