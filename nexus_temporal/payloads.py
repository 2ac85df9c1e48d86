"""Payload sizes against Temporal's 2 MB limit, measured one way for workflow and activity code."""

from __future__ import annotations

import json
from typing import Any

#: Temporal refuses payloads over 2 MB; stay clearly below it, with room for the envelope.
PAYLOAD_LIMIT = 1_900_000


def json_size(value: Any, limit: int | None = None) -> int:
    """Bytes ``value`` takes as compact JSON (what the default data converter writes).

    With ``limit``, a value that is certainly larger is not serialised at all: a JSONata result
    can hold the same string or list many times over (``[$s, $s, $s, ...]`` is a list of
    references), so its JSON can be gigabytes although it takes little memory, and measuring it
    with ``json.dumps`` would allocate all of it. ``min_json_size`` stops as soon as it has
    seen more than ``limit`` bytes; the returned number is then a lower bound (still over
    ``limit``). Under the limit the size is exact.
    """
    if limit is not None:
        floor = min_json_size(value, limit)
        if floor > limit:
            return floor
    return len(json.dumps(value, default=str, separators=(",", ":")))


def min_json_size(value: Any, stop: int) -> int:
    """A lower bound of ``json_size(value)``, counted until it passes ``stop``.

    It costs one visit per node seen, never more than ``stop`` bytes' worth, whatever the value
    shares: strings count their characters and quotes, every other leaf one byte, containers
    their brackets, separators and keys.
    """
    total = 0
    pending: list[Any] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 1 + 2 * len(item)  # braces, and per key a colon and a comma (or brace)
            for key, child in item.items():
                total += len(key) + 2 if isinstance(key, str) else 1
                pending.append(child)
        elif isinstance(item, (list, tuple)):
            total += 1 + max(len(item), 1)  # brackets and commas
            pending.extend(item)
        else:
            total += 1
        if total > stop:
            break
    return total
