"""The ``nexus.invoke`` activity: call a function URI through the provider for its scheme.

This is activity code: anything goes (I/O, clocks, credentials). Its input is recorded in
history, so it carries no secrets: headers may name ``${env:VAR}``, resolved here on the worker,
and cloud credentials come from the worker's provider settings (:mod:`activities.config`).

Every call goes through its target's circuit breaker (:mod:`activities.breaker`): while the
breaker is open the activity fails at once with ``CircuitOpen`` (``next_retry_delay`` = the time
until the breaker lets probes through), without calling the target. On the last attempt of the
retry policy no retry follows, so a refusal then fails with the target's last real error type
(e.g. ``HttpError``, its details kept) and names the open breaker in the message; ``CircuitOpen``
stays the type when the policy makes it non-retryable (a function with a fallback after it).
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from typing import Any, Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.breaker import (
    BREAKERS,
    CIRCUIT_OPEN,
    BreakerRegistry,
    BreakerSettings,
    CircuitOpenError,
    Outcome,
    RealError,
)
from activities.config import ProvidersConfig
from nexus_temporal.protocol import ATTEMPT_TIMED_OUT, INVOKE_ACTIVITY, InvokeRequest

#: Scheme -> (module, provider class). Imported on first use, so a worker without a cloud SDK
#: still serves python: and http(s):// targets.
PROVIDERS: dict[str, tuple[str, str]] = {
    "python": ("activities.python", "PythonProvider"),
    "http": ("activities.http", "HttpProvider"),
    "https": ("activities.http", "HttpProvider"),
    "aws-lambda": ("activities.aws_lambda", "LambdaProvider"),
    "azure-function": ("activities.azure", "AzureProvider"),
    "gcp-function": ("activities.gcp", "GcpProvider"),
}
#: Schemes whose breaker is off unless the function sets ``circuit_breaker:`` (local code).
BREAKER_OFF_BY_DEFAULT = ("python",)

_KEY: contextvars.ContextVar[str] = contextvars.ContextVar("nexus_idempotency_key", default="")
#: The worker-side deadline of the attempt being served (set by the adaptive-retry interceptor
#: under ``retry.policy: adaptive``; None otherwise).
ATTEMPT_DEADLINE: contextvars.ContextVar[asyncio.Timeout | None] = contextvars.ContextVar(
    "nexus_attempt_deadline", default=None
)


def attempt_deadline_expired() -> bool:
    """Whether the worker-side attempt deadline has fired for the call being served (its
    cancellation is then a timeout, not a cancel)."""
    deadline = ATTEMPT_DEADLINE.get()
    return deadline is not None and deadline.expired()


def idempotency_key() -> str:
    """The stable idempotency key of the call being served (``<workflow id>/<state>/<n>``,
    for map items ``<root workflow id>/<state>/<index>``): the same on every retry, after a
    worker crash and on replay. Use it to make side effects happen once. Public as
    ``nexus_temporal.idempotency_key()``."""
    return _KEY.get()


def _last_attempt() -> bool:
    """Whether the attempt being served is its retry policy's last, with ``CircuitOpen``
    retryable (a refusal then ends the call: no retry follows)."""
    if not activity.in_activity():
        return False
    info = activity.info()
    policy = info.retry_policy
    if policy is None or CIRCUIT_OPEN in (policy.non_retryable_error_types or ()):
        return False
    return 0 < policy.maximum_attempts <= info.attempt


class Provider(Protocol):
    """One cloud or protocol: checks its targets at worker start and calls them."""

    def problem(self, uri: str, options: Mapping[str, Any]) -> str | None:
        """Why this worker cannot call ``uri`` (None: it can). Checked at worker start."""

    def target_key(self, request: InvokeRequest) -> str:
        """The breaker key: one breaker per distinct target (e.g. region + name + qualifier)."""

    async def call(self, request: InvokeRequest) -> Any:
        """One attempt; errors are ``ApplicationError`` with the provider's error types."""


def scheme_of(uri: str) -> str:
    return uri.split(":", 1)[0]


class Invoker:
    """The ``nexus.invoke`` activity bound to a worker's provider settings and breakers."""

    def __init__(
        self,
        providers: ProvidersConfig | None = None,
        breakers: BreakerRegistry = BREAKERS,
        allowed: Collection[str] | None = None,
    ) -> None:
        self.providers = providers if providers is not None else ProvidersConfig.load()
        self.breakers = breakers
        #: The URIs this worker's definitions call (None: any). The request comes from
        #: workflow code, but a worker runs only the code its deployed definitions name, even
        #: if workflow state were forged (docs/security.md).
        self.allowed = frozenset(allowed) if allowed is not None else None
        #: Judges whether a failed call of the adaptive policy was *stressed* (a timeout, a
        #: throttle, or a target under load): set by the worker's adaptive-retry interceptor;
        #: such calls count as slow for the target's breaker (docs/resilience.md).
        self.stress: Callable[[str, BaseException], bool] | None = None
        self._instances: dict[str, Provider] = {}

    def provider(self, scheme: str) -> Provider | None:
        """The provider for ``scheme``; None for an unknown scheme."""
        spec = PROVIDERS.get(scheme)
        if spec is None:
            return None
        if spec[1] not in self._instances:
            cls = getattr(importlib.import_module(spec[0]), spec[1])
            self._instances[spec[1]] = cls(self.providers)
        return self._instances[spec[1]]

    def problem(self, uri: str, options: Mapping[str, Any]) -> str | None:
        provider = self.provider(scheme_of(uri))
        if provider is None:
            return f"no provider for '{scheme_of(uri)}:' on this worker"
        return provider.problem(uri, options)

    @activity.defn(name=INVOKE_ACTIVITY)
    async def invoke(self, request: InvokeRequest) -> Any:
        """Dispatch on the URI scheme, through the target's circuit breaker."""
        if self.allowed is not None and request.uri not in self.allowed:
            raise ApplicationError(
                f"function '{request.function}' (state '{request.state}') is not one this "
                "worker's definitions call; refused",
                type="FunctionNotAllowed",
                non_retryable=True,
            )
        scheme = scheme_of(request.uri)
        provider = self.provider(scheme)
        if provider is None:
            raise ApplicationError(
                f"function '{request.function}': no provider for '{scheme}:' on this worker",
                type="ProviderNotConfigured",
                non_retryable=True,
            )
        # Local code gets a breaker only when its function asks for one.
        settings = BreakerSettings.from_mapping(
            request.circuit_breaker,
            enabled=scheme not in BREAKER_OFF_BY_DEFAULT or bool(request.circuit_breaker),
            adaptive=request.retry_policy == "adaptive",
        )
        token = _KEY.set(request.idempotency_key)
        try:
            if not settings.enabled:
                return await provider.call(request)
            return await self._guarded(provider, request, settings)
        finally:
            _KEY.reset(token)

    async def _guarded(
        self, provider: Provider, request: InvokeRequest, settings: BreakerSettings
    ) -> Any:
        target = provider.target_key(request)
        breaker = self.breakers.get(target, settings)
        try:
            permit = breaker.acquire()
        except CircuitOpenError as exc:
            self.breakers.rejected(target)
            last = self.breakers.last_error(target) if _last_attempt() else None
            if last is not None:
                raise ApplicationError(
                    f"{last.message} (last error of the target; its circuit breaker is open, "
                    "so this last attempt did not call it)",
                    *last.details,
                    type=last.type,
                    non_retryable=True,
                ) from None
            raise ApplicationError(
                f"function '{request.function}': {exc}",
                {"function": request.function, "retry_in": round(exc.retry_in, 3)},
                type=CIRCUIT_OPEN,
                next_retry_delay=timedelta(seconds=max(exc.retry_in, 0.001)),
            ) from None
        outcome = Outcome.FAILURE
        error: BaseException | None = None
        try:
            result = await provider.call(request)
            outcome = Outcome.SUCCESS
            return result
        except ApplicationError as exc:
            # A non-retryable error says the request was wrong, not that the target is sick.
            outcome = Outcome.IGNORED if exc.non_retryable else Outcome.FAILURE
            error = exc
            if outcome is Outcome.FAILURE:
                real = RealError(exc.type or "Error", exc.message, tuple(exc.details or ()))
                self.breakers.failed(target, real)
            raise
        except asyncio.CancelledError as exc:
            details = activity.cancellation_details() if activity.in_activity() else None
            timed_out = (details is not None and details.timed_out) or attempt_deadline_expired()
            outcome = Outcome.FAILURE if timed_out else Outcome.IGNORED
            error = exc
            if timed_out:
                real = RealError(ATTEMPT_TIMED_OUT, f"function '{request.function}' timed out")
                self.breakers.failed(target, real)
            raise
        except Exception as exc:
            error = exc
            self.breakers.failed(target, RealError(type(exc).__name__, str(exc)))
            raise
        finally:
            slow: bool | None = None
            judge = self.stress
            if judge is not None and error is not None and outcome is Outcome.FAILURE:
                if request.retry_policy == "adaptive":
                    slow = judge(target, error)
            breaker.record(permit, outcome, slow=slow)
