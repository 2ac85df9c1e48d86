"""Payload sizes against Temporal's 2 MB limit, measured one way for workflow and activity code."""

from __future__ import annotations

import json
from typing import Any

#: Temporal refuses payloads over 2 MB; stay clearly below it, with room for the envelope.
PAYLOAD_LIMIT = 1_900_000


def json_size(value: Any) -> int:
    """Bytes ``value`` takes as compact JSON (what the default data converter writes)."""
    return len(json.dumps(value, default=str, separators=(",", ":")))
