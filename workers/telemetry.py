"""Worker-side OpenTelemetry: the tracing interceptor, span exporters and the metrics pipeline.

Traces: :class:`NexusTracing` is Temporal's ``TracingInterceptor`` (client, workflow and activity
spans, context propagated through headers) plus

- ``state:<StateName>`` spans, one per state visit, with real workflow-time durations, recorded
  from what the interpreter hands over (:mod:`interpreters.tracing`, replay-safe);
- ``function:<name>`` spans around every action a worker serves, inside Temporal's
  ``RunActivity:`` span, with the attributes ``nexus.function``, ``nexus.state``,
  ``nexus.definition``.

Metrics: Temporal's SDK metrics (and the interpreter's, recorded through
``workflow.metric_meter()``) from the SDK runtime's Prometheus exporter, and this process's
OpenTelemetry metrics (circuit breakers) from a Prometheus reader, served together on one
``/metrics`` endpoint (:mod:`workers.health`).
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import sys
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

import opentelemetry.context
import opentelemetry.metrics
import opentelemetry.trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode
from temporalio import activity
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    WorkflowInterceptorClassInput,
)

from activities.redact import scrub_text
from interpreters.tracing import STATE_SPAN_EXTERN, StateSpan
from workers.exporters import EXPORTERS

log = logging.getLogger("nexus.telemetry")

DEFAULT_SERVICE_NAME = "nexus-worker"

#: (trace id, span id) the next span created on this thread/task must take (see _ForcedIds).
_FORCED_IDS: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "nexus_forced_span_ids", default=None
)


class _ForcedIds(IdGenerator):
    """Delegates to the tracer's own generator, except for state spans, whose ids the workflow
    derived deterministically (so activities could be parented to them before they ended)."""

    def __init__(self, inner: IdGenerator) -> None:
        self.inner = inner

    def generate_span_id(self) -> int:
        forced = _FORCED_IDS.get()
        return forced[1] if forced else self.inner.generate_span_id()

    def generate_trace_id(self) -> int:
        forced = _FORCED_IDS.get()
        return forced[0] if forced else self.inner.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return False if _FORCED_IDS.get() else self.inner.is_trace_id_random()


class NexusTracing(TracingInterceptor):
    """Temporal's tracing interceptor with NEXUS state and function spans.

    Put it on the client (``interceptors=[NexusTracing(tracer)]``): workers built from that
    client inherit it. State spans need an OpenTelemetry SDK tracer (the ids of a state span are
    chosen by the workflow); with another tracer only Temporal's and function spans are made.
    """

    def __init__(self, tracer: opentelemetry.trace.Tracer | None = None) -> None:
        super().__init__(tracer)
        self.state_spans = isinstance(self.tracer, SdkTracer)
        if isinstance(self.tracer, SdkTracer) and not isinstance(
            self.tracer.id_generator, _ForcedIds
        ):
            self.tracer.id_generator = _ForcedIds(self.tracer.id_generator)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        cls = super().workflow_interceptor_class(input)
        if self.state_spans:
            input.unsafe_extern_functions[STATE_SPAN_EXTERN] = self.record_state
        return cls

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return super().intercept_activity(_FunctionSpans(next, self))

    def record_state(self, span: StateSpan) -> None:
        """Record one finished state (called by the workflow, outside replay)."""
        context = (
            self.text_map_propagator.extract(span.parent)
            if span.parent
            else opentelemetry.context.Context()
        )
        token = _FORCED_IDS.set((span.trace_id, span.span_id))
        try:
            otel_span = self.tracer.start_span(
                span.name,
                context,
                kind=SpanKind.INTERNAL,
                attributes=span.attributes,
                start_time=span.start_ns,
            )
        finally:
            _FORCED_IDS.reset(token)
        if span.error:
            otel_span.set_attribute("nexus.error.type", span.error)
            # Span data leaves the worker (an OTLP collector): never URL userinfo or a token.
            otel_span.set_status(
                Status(StatusCode.ERROR, scrub_text(f"{span.error}: {span.error_message or ''}"))
            )
        otel_span.end(end_time=max(span.end_ns, span.start_ns))


class _FunctionSpans(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, root: NexusTracing) -> None:
        super().__init__(next)
        self.root = root

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        request = input.args[0] if input.args else None
        function = getattr(request, "function", None)
        state = getattr(request, "state", None)
        if not isinstance(function, str):
            if info.activity_type.startswith("nexus."):  # the interpreter's own activities
                return await super().execute_activity(input)
            function, state = info.activity_type, None
        attributes: dict[str, str | int] = {
            "nexus.function": function,
            "nexus.definition": info.workflow_type or "",
            "nexus.attempt": info.attempt,
        }
        if isinstance(state, str) and state:
            attributes["nexus.state"] = state
        uri = getattr(request, "uri", None)
        if isinstance(uri, str):
            attributes["nexus.target"] = uri.split(":", 1)[0]
        with self.root.tracer.start_as_current_span(
            f"function:{function}", attributes=attributes, record_exception=True
        ) as span:
            try:
                return await super().execute_activity(input)
            except Exception as exc:
                span.set_attribute(
                    "nexus.error.type", getattr(exc, "type", None) or type(exc).__name__
                )
                raise


def _one_line(span: ReadableSpan) -> str:
    took = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    ctx = span.get_span_context()
    trace = f"{ctx.trace_id:032x}"[:12] if ctx else "?"
    status = "error" if span.status.status_code == StatusCode.ERROR else "ok"
    return f"span {span.name} {took:.1f} ms trace={trace} {status}\n"


def exporter_from_env(dev: bool = False, env: Mapping[str, str] | None = None) -> str:
    """The default ``--otel-exporter``: ``OTEL_TRACES_EXPORTER`` if set; else ``otlp`` when an
    OTLP endpoint is configured; else ``console`` for ``nexus dev`` and ``none`` otherwise."""
    env = os.environ if env is None else env
    chosen = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen:
        return chosen.split(",")[0]
    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return "otlp"
    return "console" if dev else "none"


def make_exporter(kind: str, stream: IO[str] | None = None) -> SpanExporter | None:
    """A span exporter by name: ``otlp`` (OTLP over HTTP/protobuf; endpoint, headers and
    timeout from the standard ``OTEL_EXPORTER_OTLP_*`` variables, default
    http://localhost:4318), ``console`` (one line per span) or ``none``."""
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter(out=stream or sys.stderr, formatter=_one_line)
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"unknown OpenTelemetry exporter '{kind}' (choose {', '.join(EXPORTERS)})")


def tracer_provider(exporter: SpanExporter | None, *, batch: bool = True) -> TracerProvider:
    """A tracer provider for this worker (service name from ``OTEL_SERVICE_NAME``, else
    ``nexus-worker``) exporting to ``exporter``."""
    name = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if exporter is not None:
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        provider.add_span_processor(processor)
    return provider


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Metrics:
    """Where this process's metrics come from: the SDK runtime's Prometheus endpoint (bound to
    loopback, read on each scrape) and an OpenTelemetry Prometheus reader."""

    sdk_address: str
    registry: Any  # prometheus_client.CollectorRegistry

    def render(self) -> bytes:
        """The Prometheus text of both sources (blocking: call it off the event loop)."""
        from prometheus_client import generate_latest

        ours = generate_latest(self.registry)
        try:
            with urllib.request.urlopen(f"http://{self.sdk_address}/metrics", timeout=5) as r:
                sdk = bytes(r.read())
        except OSError as exc:
            log.warning("cannot read the Temporal SDK metrics: %s", exc)
            sdk = b""
        if sdk and not sdk.endswith(b"\n"):
            sdk += b"\n"
        return sdk + _without_target_info(ours) if b"target_info" in sdk else sdk + ours


def _without_target_info(text: bytes) -> bytes:
    return b"".join(line for line in text.splitlines(keepends=True) if b"target_info" not in line)


def setup_metrics() -> Metrics:
    """Make this process export metrics: a new default SDK runtime (create clients after this)
    with a Prometheus exporter on a loopback port, and a global OpenTelemetry meter provider
    with a Prometheus reader (the circuit breakers' meter ``nexus.breaker`` included)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import CollectorRegistry
    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        PrometheusConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    sdk_address = f"127.0.0.1:{free_port()}"
    runtime = Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
            metrics=PrometheusConfig(bind_address=sdk_address),
        )
    )
    Runtime.set_default(runtime, error_if_already_set=False)
    registry = CollectorRegistry()
    name = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = MeterProvider(
        metric_readers=[PrometheusMetricReader(registry=registry)],
        resource=Resource.create({SERVICE_NAME: name}),
    )
    opentelemetry.metrics.set_meter_provider(provider)
    return Metrics(sdk_address, registry)
