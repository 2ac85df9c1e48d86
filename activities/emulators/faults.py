"""Fault injection shared by the local cloud emulators.

A :class:`Faults` value says what goes wrong, per function (``"*"``: every function without its
own): added latency, error and throttle rates (random, seeded), deterministic "next N calls"
counters, outage windows and partial side effects (the function runs, then the reply is an
error, as when a response is lost). :class:`FaultState` applies them and counts what happened.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

Decision = Literal["ok", "throttle", "error", "outage", "partial"]


@dataclass(frozen=True)
class Faults:
    """What an emulated function suffers. Rates are fractions in [0, 1]; times are seconds.

    Args:
        latency: added before every call.
        error_rate: calls answered with a server error (HTTP 500 / Lambda ServiceException)
            without running the function.
        throttle_rate: calls answered 429 with ``Retry-After: retry_after``.
        retry_after: the ``Retry-After`` of throttled calls.
        partial_rate: calls where the function runs (its side effects happen) but the reply is
            a server error.
        outages: ``[start, end)`` windows, in seconds since the emulator started, during which
            every call gets 503.
        down: a manual outage switch (every call gets 503).
        fail_next, throttle_next, partial_next: the next N calls fail that way (deterministic).
        seed: the random seed for the rates.
    """

    latency: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    partial_rate: float = 0.0
    outages: tuple[tuple[float, float], ...] = ()
    down: bool = False
    fail_next: int = 0
    throttle_next: int = 0
    partial_next: int = 0
    seed: int | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault setting(s) {sorted(unknown)}")
        values = dict(data)
        if "outages" in values:
            values["outages"] = tuple((float(a), float(b)) for a, b in values["outages"])
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        out = asdict(self)
        out["outages"] = [list(w) for w in self.outages]
        return out


@dataclass
class Stats:
    """What happened to one function: ``requests`` reached the emulator, ``executions`` ran
    the function, ``keys`` are the idempotency keys seen (in order)."""

    requests: int = 0
    executions: int = 0
    throttled: int = 0
    errors: int = 0
    outages: int = 0
    partial: int = 0
    keys: list[str] = field(default_factory=list)


class FaultState:
    """Per-function faults and stats of one emulator. Thread-safe."""

    def __init__(self, faults: Mapping[str, Faults] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Faults] = dict(faults or {})
        self._stats: dict[str, Stats] = {}
        self._random: dict[str, random.Random] = {}
        self.started = time.monotonic()

    def set(self, function: str = "*", faults: Faults | None = None, **changes: Any) -> Faults:
        """Replace (``faults``) or change (keyword fields) the faults of ``function``."""
        with self._lock:
            base = faults or self._faults.get(function) or Faults()
            new = replace(base, **changes) if changes else base
            self._faults[function] = new
            self._random.pop(function, None)
            return new

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._random.clear()

    def get(self, function: str) -> Faults:
        with self._lock:
            return self._faults.get(function) or self._faults.get("*") or Faults()

    def stats(self, function: str) -> Stats:
        with self._lock:
            return self._stats.setdefault(function, Stats())

    def all_stats(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: asdict(s) for name, s in self._stats.items()}

    def all_faults(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: f.to_mapping() for name, f in self._faults.items()}

    def decide(self, function: str, key: str | None = None) -> tuple[Decision, Faults]:
        """Count a request and decide its fate (sleeping the injected latency first)."""
        faults = self.get(function)
        if faults.latency > 0:
            time.sleep(faults.latency)
        with self._lock:
            own = function if function in self._faults else "*"
            stats = self._stats.setdefault(function, Stats())
            stats.requests += 1
            if key:
                stats.keys.append(key)
            rng = self._random.setdefault(own, random.Random(faults.seed))
            now = time.monotonic() - self.started
            decision: Decision = "ok"
            current = self._faults.get(own)
            if faults.down or any(a <= now < b for a, b in faults.outages):
                decision = "outage"
            elif current is not None and current.throttle_next > 0:
                self._faults[own] = replace(current, throttle_next=current.throttle_next - 1)
                decision = "throttle"
            elif current is not None and current.fail_next > 0:
                self._faults[own] = replace(current, fail_next=current.fail_next - 1)
                decision = "error"
            elif current is not None and current.partial_next > 0:
                self._faults[own] = replace(current, partial_next=current.partial_next - 1)
                decision = "partial"
            else:
                roll = rng.random()
                if roll < faults.throttle_rate:
                    decision = "throttle"
                elif roll < faults.throttle_rate + faults.error_rate:
                    decision = "error"
                elif roll < faults.throttle_rate + faults.error_rate + faults.partial_rate:
                    decision = "partial"
            if decision == "throttle":
                stats.throttled += 1
            elif decision == "error":
                stats.errors += 1
            elif decision == "outage":
                stats.outages += 1
            elif decision == "partial":
                stats.partial += 1
            if decision in ("ok", "partial"):
                stats.executions += 1
            return decision, faults
