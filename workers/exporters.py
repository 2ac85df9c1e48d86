"""The OpenTelemetry trace exporters a worker offers, by name (``--otel-exporter``).

A module of its own so the CLI's flags (:mod:`workers.observability`) and the exporters'
implementation (:mod:`workers.telemetry`) share one list without importing each other.
"""

EXPORTERS = ("otlp", "console", "none")
