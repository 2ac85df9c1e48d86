"""nexus-temporal: declarative NEXUS YAML workflows on Temporal.

Public API: :func:`function` registers a Python function as an activity type;
:func:`idempotency_key` is the stable key of the call being served; the ``nexus`` CLI does the
rest. Both load on first use, so importing the DSL (``nexus_temporal.dsl``) from workflow code
loads no activity code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["function", "idempotency_key"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from activities import python

        return getattr(python, name)
    raise AttributeError(f"module 'nexus_temporal' has no attribute {name!r}")
