"""Worker interceptors: activity-side guards that every action passes through.

``PayloadGuard`` turns a result too large for Temporal's history (2 MB per payload) into a typed,
non-retryable ``PayloadTooLarge`` error naming the state and the fix, instead of the server's raw
rejection of the completion (which would leave the activity to time out and retry forever).

``FailureLog`` (outermost) logs every failed attempt once: one line for an expected failure
(an ``ApplicationError``), the traceback for a bug (:mod:`workers.logs`).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from nexus_temporal.payloads import PAYLOAD_LIMIT, json_size
from workers.logs import log_activity_failure


class _PayloadGuardInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        result = await super().execute_activity(input)
        size = json_size(result)
        if size > PAYLOAD_LIMIT:
            request = input.args[0] if input.args else None
            state = getattr(request, "state", "") or activity.info().activity_type
            raise ApplicationError(
                f"the result of '{state}' is {size / 1e6:.1f} MB, over Temporal's 2 MB payload "
                "limit; return a reference instead (write the data to a file or S3 and return "
                "its URI; for maps use 'results: store')",
                type="PayloadTooLarge",
                non_retryable=True,
            )
        return result


class PayloadGuard(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _PayloadGuardInbound(next)


class _FailureLogInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except CancelledError:  # a cancel is not a failure of the function: the SDK's to log
            raise
        except Exception as exc:
            log_activity_failure(exc, input.args[0] if input.args else None)
            raise


class FailureLog(Interceptor):
    """Logs each failed attempt once (:func:`workers.logs.log_activity_failure`); put it first,
    so it sees the error the other interceptors end with."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _FailureLogInbound(next)
