"""nexus-temporal: declarative NEXUS YAML workflows on Temporal.

Public API: :func:`function` registers a Python function as an activity type; the ``nexus`` CLI
does the rest.
"""

from activities.python import function, idempotency_key

__all__ = ["function", "idempotency_key"]
__version__ = "0.1.0"
