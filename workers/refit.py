"""The background refit of the anomaly scorer's forest (a thread per interceptor)."""

from __future__ import annotations

import threading
import weakref
from typing import Any


def refit_loop(
    ref: weakref.ReferenceType[Any],
    stop: threading.Event,
    dirty: threading.Event,
    interval: float,
) -> None:
    while not stop.wait(interval):
        me = ref()
        if me is None:
            return
        if dirty.is_set():
            dirty.clear()
            try:
                me.scorer.refit(me.clock())
            except Exception:  # a failed fit only leaves the forest signal stale
                pass
        del me
