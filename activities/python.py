"""The ``python:module:function`` provider, and functions registered by activity-type name.

A Python exception becomes an ``ApplicationError`` whose type is the exception's class name, so
a definition can ``catch`` it by that name. Raise ``ApplicationError(non_retryable=True)`` to stop
retries.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.config import ProvidersConfig
from activities.invoke import InvokeRequest, idempotency_key
from nexus_temporal.dsl.errors import did_you_mean

_REGISTERED: dict[str, Callable[..., Any]] = {}


def function(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a Python function as the activity type ``name``.

    A NEXUS action naming ``name`` then runs it on any nexus worker that imported the module.
    The function receives the action's input (one JSON value) and returns a JSON value.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTERED[name] = fn
        return fn

    return register


def registered_functions() -> dict[str, Callable[..., Any]]:
    return dict(_REGISTERED)


def resolve(uri: str) -> Callable[..., Any]:
    """Import ``python:module:function``; raises ``LookupError`` naming what is missing."""
    _, module_name, attr = uri.split(":", 2)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"cannot import module '{module_name}': {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        callables = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        hint = did_you_mean(attr, callables)
        raise LookupError(
            f"module '{module_name}' has no function '{attr}'" + (f"; {hint}" if hint else "")
        )
    return fn


async def run_function(fn: Callable[..., Any], payload: Any) -> Any:
    """Call a sync or async function with one payload, off the event loop if sync."""
    if inspect.iscoroutinefunction(fn):
        return await fn(payload)
    return await asyncio.to_thread(fn, payload)


async def call_python(request: InvokeRequest) -> Any:
    try:
        fn = resolve(request.uri)
    except LookupError as exc:
        raise ApplicationError(
            f"function '{request.function}': {exc}", type="FunctionNotFound", non_retryable=True
        ) from None
    return await run_function(fn, request.payload)


class PythonProvider:
    """``python:module:function``: no configuration; always available."""

    def __init__(self, providers: ProvidersConfig) -> None:
        self.providers = providers

    def problem(self, uri: str, options: Mapping[str, Any]) -> str | None:
        try:
            resolve(uri)
        except LookupError as exc:
            return str(exc)
        return None

    def target_key(self, request: InvokeRequest) -> str:
        return request.uri

    async def call(self, request: InvokeRequest) -> Any:
        return await call_python(request)


def as_activity(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a registered function as a Temporal activity named ``name``."""

    async def run(payload: Any = None) -> Any:
        return await run_function(fn, payload)

    run.__name__ = f"nexus_function_{name}"
    return activity.defn(name=name)(run)


__all__ = [
    "PythonProvider",
    "as_activity",
    "function",
    "idempotency_key",
    "registered_functions",
    "resolve",
    "run_function",
]
