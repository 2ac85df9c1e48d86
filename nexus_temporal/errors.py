"""The one root of every exception nexus-temporal raises, so callers can catch "anything from
nexus" in one clause and tell it from a bug elsewhere.

Each subclass also derives from the built-in it refines (``LookupError``, ``ValueError``, ...)
where that is what it means, so existing ``except`` clauses keep working. The subclasses and
what raises them are listed in docs/architecture.md ("Errors"); error *types* that executions
fail with (``ApplicationError.type``) are the strings of docs/dsl.md §10.2 instead.
"""

from __future__ import annotations


class NexusTemporalError(Exception):
    """Base class of every nexus-temporal exception."""


__all__ = ["NexusTemporalError"]
