"""Worker logs of failures: one line for an expected failure, a traceback only for a bug.

An *expected* failure is an ``ApplicationError``, whether a function, a provider or the worker
raised it, retryable or not (``AddressRejected``, ``InsufficientFunds``, ``CircuitOpen``): it is
logged once per attempt as ONE line at WARNING, naming the state, the function, the error type,
the attempt and the workflow id (also as ``extra`` fields, for structured handlers). Any other
exception raised by user code (a ``ValueError``) is a bug: it is logged once, at ERROR, with its
traceback.

The SDK logs every failed activity itself (``temporalio.activity``: "Completing activity as
failed", with the traceback) and every failed workflow (``temporalio.worker._workflow_instance``:
"Workflow raised failure", at DEBUG, with the traceback). :func:`install_failure_log_filters`
drops the SDK's activity record when :func:`log_activity_failure` already logged that failure,
and strips the traceback from the workflow record when the workflow failed with a NEXUS failure
(an ``ApplicationError``): its type, message and state are in the failure itself.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

log = logging.getLogger("nexus.activity")

#: Set on an exception once :func:`log_activity_failure` has logged it.
_LOGGED = "__nexus_logged__"
#: What the SDK sets on its "Completing activity as failed" record.
_SDK_ACTIVITY_FAILURE = "ActivityFailure"
_SDK_WORKFLOW_FAILURE = "Workflow raised failure"


def log_activity_failure(exc: Exception, request: Any = None) -> None:
    """Log a failed attempt of the running activity: one line for an ``ApplicationError``,
    the traceback for anything else. ``request`` is the activity's first argument (a
    ``nexus.invoke`` request names the state and the function)."""
    info = activity.info()
    state = str(getattr(request, "state", "") or "-")
    function = str(getattr(request, "function", "") or info.activity_type)
    fields = {
        "nexus_state": state,
        "nexus_function": function,
        "attempt": info.attempt,
        "workflow_id": info.workflow_id,
    }
    if isinstance(exc, ApplicationError):
        error_type = exc.type or "Error"
        retry = "non-retryable" if exc.non_retryable else "retryable"
        log.warning(
            "state '%s' function '%s' failed: %s: %s (attempt %d, %s, workflow %s)",
            state,
            function,
            error_type,
            exc.message,
            info.attempt,
            retry,
            info.workflow_id,
            extra={**fields, "error_type": error_type, "retryable": not exc.non_retryable},
        )
    else:
        error_type = type(exc).__name__
        log.error(
            "state '%s' function '%s' raised an unexpected %s: %s (attempt %d, workflow %s)",
            state,
            function,
            error_type,
            exc,
            info.attempt,
            info.workflow_id,
            exc_info=exc,
            extra={**fields, "error_type": error_type, "retryable": True},
        )
    try:
        setattr(exc, _LOGGED, True)
    except (AttributeError, TypeError):  # an exception type without attributes: SDK logs it
        pass


def _exception(record: logging.LogRecord) -> BaseException | None:
    return record.exc_info[1] if isinstance(record.exc_info, tuple) else None


class ActivityFailureFilter(logging.Filter):
    """On ``temporalio.activity``: drops the SDK's "Completing activity as failed" record (and
    its traceback) for a failure :func:`log_activity_failure` already logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "__temporal_error_identifier", None) != _SDK_ACTIVITY_FAILURE:
            return True
        return not getattr(_exception(record), _LOGGED, False)


class WorkflowFailureFilter(logging.Filter):
    """On ``temporalio.worker._workflow_instance``: the SDK's "Workflow raised failure" record
    without the traceback when the workflow failed with an ``ApplicationError``."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = _exception(record)
        if isinstance(exc, ApplicationError) and str(record.msg).startswith(_SDK_WORKFLOW_FAILURE):
            record.msg = f"{record.getMessage()}: {exc.type or 'Error'}: {exc.message}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_FILTERS: dict[str, type[logging.Filter]] = {
    "temporalio.activity": ActivityFailureFilter,
    "temporalio.worker._workflow_instance": WorkflowFailureFilter,
}


def install_failure_log_filters() -> None:
    """Install the filters on the SDK's loggers (idempotent; the worker assembly calls it)."""
    for name, cls in _FILTERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())
