"""Observability of ``nexus worker`` / ``nexus dev``: their flags, and the setup they drive.

``--otel-exporter otlp|console|none`` (traces), ``--metrics-port`` (Prometheus ``/metrics``),
``--health-port`` (``/healthz``, ``/readyz``), ``--http-host`` (where both listen, 127.0.0.1
unless told otherwise: whoever reaches them is untrusted, and metrics name definitions, states
and error types), ``--metrics-host`` / ``--health-host`` (one of them elsewhere). See
docs/observability.md.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workers.exporters import EXPORTERS

if TYPE_CHECKING:  # the heavy imports wait until a worker starts (the CLI parser needs none)
    from temporalio.client import Client
    from temporalio.worker import Worker

    from workers.health import Endpoints
    from workers.telemetry import Metrics, NexusTracing

#: Where the metrics and health endpoints listen unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"

log = logging.getLogger("nexus.observability")


def add_flags(parser: argparse.ArgumentParser, *, dev: bool = False) -> None:
    """The observability flags of a command that runs a worker."""
    g = parser.add_argument_group("observability (docs/observability.md)")
    g.add_argument(
        "--otel-exporter",
        choices=EXPORTERS,
        default=None,
        help="where traces go: OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT, default "
        "http://localhost:4318), one line per span on stderr, or nowhere "
        f"[OTEL_TRACES_EXPORTER, else otlp if an OTLP endpoint is set, else "
        f"{'console' if dev else 'none'}]",
    )
    g.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics (Temporal SDK + NEXUS)",
    )
    g.add_argument(
        "--health-port",
        type=_port,
        metavar="PORT",
        help="serve /healthz (liveness) and /readyz (readiness) on this port",
    )
    g.add_argument(
        "--http-host",
        default=DEFAULT_HOST,
        metavar="HOST",
        help="address the metrics and health endpoints listen on [127.0.0.1: this machine "
        "only; 0.0.0.0 for every interface, e.g. for Kubernetes probes or a Prometheus "
        "scraping from elsewhere]",
    )
    g.add_argument(
        "--metrics-host",
        metavar="HOST",
        help="address of the metrics endpoint alone [--http-host]",
    )
    g.add_argument(
        "--health-host",
        metavar="HOST",
        help="address of the health endpoints alone [--http-host]",
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is out of range 1-65535")
    return port


@dataclass
class Observability:
    """Tracing, metrics and probe endpoints of one worker process."""

    exporter: str = "none"
    metrics_port: int | None = None
    health_port: int | None = None
    host: str = DEFAULT_HOST
    tracing: NexusTracing | None = None
    metrics: Metrics | None = None
    probes: Any = None  # workers.health.Probes, once started
    endpoints: Endpoints | None = None
    metrics_host: str | None = None  # None: ``host``
    health_host: str | None = None  # None: ``host``

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Observability:
        """From the flags of :func:`add_flags`; a UsageError (exit 2) for an unknown exporter
        named by ``OTEL_TRACES_EXPORTER``."""
        from nexus_temporal.runner import UsageError
        from workers.telemetry import exporter_from_env

        exporter = args.otel_exporter or exporter_from_env(dev=args.command == "dev")
        if exporter not in EXPORTERS:
            raise UsageError(
                f"unknown trace exporter '{exporter}' (from OTEL_TRACES_EXPORTER); "
                f"choose one of {', '.join(EXPORTERS)}"
            )
        host = args.http_host
        metrics_host = args.metrics_host or host
        health_host = args.health_host or host
        if (
            args.metrics_port is not None
            and args.metrics_port == args.health_port
            and metrics_host != health_host
        ):
            raise UsageError(
                f"--metrics-port and --health-port are both {args.metrics_port}, one endpoint: "
                f"it cannot listen on both {metrics_host} and {health_host}; use one host or "
                "two ports"
            )
        return cls(
            exporter=exporter,
            metrics_port=args.metrics_port,
            health_port=args.health_port,
            host=host,
            metrics_host=metrics_host,
            health_host=health_host,
        )

    def _host_of(self, what: str) -> str:
        chosen = self.metrics_host if what == "metrics" else self.health_host
        return chosen or self.host

    async def start(self) -> Observability:
        """Before any client exists: the metrics runtime, the tracer, the endpoints (liveness
        answers from here on; readiness once :meth:`watch` saw the worker polling)."""
        from workers.health import Endpoints, Probes
        from workers.telemetry import NexusTracing, make_exporter, setup_metrics, tracer_provider

        self.probes = Probes()
        if self.metrics_port is not None:
            self.metrics = setup_metrics()
        span_exporter = make_exporter(self.exporter)
        if span_exporter is not None:
            import opentelemetry.trace

            provider = tracer_provider(span_exporter, batch=self.exporter != "console")
            opentelemetry.trace.set_tracer_provider(provider)
            self.tracing = NexusTracing(provider.get_tracer("nexus_temporal"))
        self.endpoints = Endpoints(self.probes, self.metrics)
        ports: dict[int, tuple[bool, bool, str]] = {}
        if self.health_port is not None:
            ports[self.health_port] = (True, False, self._host_of("health"))
        if self.metrics_port is not None:  # the same port: one listener (same host, checked)
            health, _, _ = ports.get(self.metrics_port, (False, False, ""))
            ports[self.metrics_port] = (health, True, self._host_of("metrics"))
        for port, (health, metrics, host) in ports.items():
            await self.endpoints.listen(host, port, self.endpoints.routes(health, metrics))
        return self

    def instrument(self, client: Client) -> Client:
        """``client`` with the tracing interceptor (workers built from it inherit it)."""
        if self.tracing is None:
            return client
        from temporalio.client import Client

        config = client.config()
        config["interceptors"] = [*config.get("interceptors", []), self.tracing]
        return Client(**config)

    def watch(self, client: Client, worker: Worker) -> None:
        """Readiness follows this client and worker from now on."""
        if self.probes is not None:
            self.probes.client = client
            self.probes.worker = worker

    def describe(self) -> str:
        """One line for the startup banner (empty when everything is off)."""
        parts = []
        if self.exporter != "none":
            parts.append(f"traces: {self.exporter}")

        def shown(what: str) -> str:
            host = self._host_of(what)
            if host in ("0.0.0.0", "", "::"):
                return "localhost"
            return f"[{host}]" if ":" in host else host

        if self.metrics_port is not None:
            parts.append(f"metrics: http://{shown('metrics')}:{self.metrics_port}/metrics")
        if self.health_port is not None:
            parts.append(f"health: http://{shown('health')}:{self.health_port}/healthz, /readyz")
        return "; ".join(parts)

    async def stop(self) -> None:
        """Close the endpoints and flush pending spans."""
        if self.endpoints is not None:
            await self.endpoints.close()
        if self.tracing is not None:
            import opentelemetry.trace

            provider = opentelemetry.trace.get_tracer_provider()
            shutdown = getattr(provider, "shutdown", None)
            if callable(shutdown):
                shutdown()
