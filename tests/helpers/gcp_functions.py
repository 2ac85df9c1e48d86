"""HTTP Cloud Functions served by functions-framework in tests (loaded from this file by
``functions_framework.create_app``)."""

from __future__ import annotations

import time
from typing import Any

import functions_framework


@functions_framework.http
def echo(request: Any) -> Any:
    return {"echo": request.get_json(silent=True), "key": request.headers.get("Idempotency-Key")}


@functions_framework.http
def reject(request: Any) -> Any:
    return {"error": "bad amount"}, 422


@functions_framework.http
def crash(request: Any) -> Any:
    raise RuntimeError("unhandled in the function")


@functions_framework.http
def slow(request: Any) -> Any:
    time.sleep(float((request.get_json(silent=True) or {}).get("seconds", 2)))
    return {}
