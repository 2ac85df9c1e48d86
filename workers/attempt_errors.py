"""How the adaptive interceptor reads a failed attempt, and rebuilds its error.

Kept apart from :mod:`workers.resilience` so each module stays small.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.exceptions import ApplicationError

from policies.scorer import Outcome
from workers.resilience_settings import THROTTLE_TYPES, TIMEOUT_TYPES


def _seconds(value: timedelta | None) -> float:
    return value.total_seconds() if value is not None else 0.0


def classify(exc: BaseException) -> tuple[str, Outcome, float | None]:
    """(error type, outcome class, Retry-After seconds) of a failed attempt."""
    if isinstance(exc, ApplicationError):
        error_type = exc.type or "Error"
        retry_after = _seconds(exc.next_retry_delay) if exc.next_retry_delay else None
    else:
        error_type, retry_after = type(exc).__name__, None
    if error_type in THROTTLE_TYPES or retry_after is not None:
        return error_type, Outcome.THROTTLED, retry_after
    if error_type in TIMEOUT_TYPES:
        return error_type, Outcome.TIMEOUT, None
    return error_type, Outcome.ERROR, None


def rebuild(exc: BaseException, error_type: str, **kwargs: Any) -> ApplicationError:
    """The same error (type, message, details) with new retry settings."""
    if isinstance(exc, ApplicationError):
        return ApplicationError(
            exc.message, *exc.details, type=error_type, category=exc.category, **kwargs
        )
    return ApplicationError(str(exc), type=error_type, **kwargs)
