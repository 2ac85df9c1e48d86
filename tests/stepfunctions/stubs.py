"""Functions converted state machines call in tests (``python:tests.stepfunctions.stubs:NAME``)
in place of Lambda functions and service integrations."""

from __future__ import annotations

import threading
from typing import Any

from temporalio.exceptions import ApplicationError

_lock = threading.Lock()
_attempts: dict[str, int] = {}


def echo(payload: Any) -> Any:
    return payload


def double(payload: Any) -> Any:
    return {"doubled": payload["n"] * 2, "meta": {"by": "double"}}


def greet(payload: Any) -> Any:
    return {"greeting": f"hello {payload['who']}"}


def fail_custom(payload: Any) -> Any:
    """Fails with the error name in ``payload['error']`` (a Lambda's ``errorType``)."""
    raise ApplicationError(
        "it broke",
        {"errorType": payload["error"], "errorMessage": "it broke"},
        type=payload["error"],
    )


def flaky(payload: Any) -> Any:
    """Fails with ``payload['error']`` ``payload['fail_times']`` times per ``payload['key']``."""
    with _lock:
        n = _attempts[payload["key"]] = _attempts.get(payload["key"], 0) + 1
    if n <= payload["fail_times"]:
        raise ApplicationError(f"attempt {n} failed", type=payload["error"])
    return {"attempts": n}


def attempts(key: str) -> int:
    with _lock:
        return _attempts.get(key, 0)


def sleepy(payload: Any) -> Any:
    import time

    time.sleep(payload["seconds"])
    return {"slept": payload["seconds"]}


TOKENS: dict[str, str] = {}


def record_token(payload: Any) -> Any:
    """A stand-in for sqs:sendMessage.waitForTaskToken: remember the token for the test."""
    with _lock:
        TOKENS[payload["key"]] = payload["token"]
    return {"MessageId": "m-1"}
