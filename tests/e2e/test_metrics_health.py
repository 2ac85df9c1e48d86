"""`nexus worker --metrics-port --health-port`: Prometheus metrics (Temporal SDK and NEXUS) on
one endpoint, liveness and readiness probes; the real CLI in its own process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from tests.helpers.processes import ROOT, kill_group, nexus_cmd, spawn, wait_for_line
from workers.health import Endpoints, Probes
from workers.telemetry import free_port

FNS = "python:tests.helpers.functions"

FLOW = f"""
name: metered
version: "1"
functions:
  echo:
    uri: {FNS}:echo
    circuit_breaker: {{window_size: 5, minimum_calls: 5}}
  record: {FNS}:record
  boom: {FNS}:boom
states:
  - name: Reserve
    action: record
    compensate: {{action: echo}}
    next: Echo
  - name: Echo
    action: echo
    next: Explode
  - name: Explode
    action: boom
    input: '{{"kind": "Kaput"}}'
"""


def address_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the first sample of ``name`` whose labels include ``labels``."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


async def poll(url: str, until: object, timeout: float = 60) -> httpx.Response:
    """GET ``url`` until ``until(response)`` is true; the last response otherwise."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            try:
                response = await http.get(url)
                if until(response):  # type: ignore[operator]
                    return response
            except httpx.TransportError:
                response = None  # type: ignore[assignment]
            if time.monotonic() > deadline:
                if response is None:
                    raise AssertionError(f"{url} never answered")
                return response
            await asyncio.sleep(0.3)


NEXUS_METRICS = (
    ("nexus_state_transitions_total", {"definition": "metered", "state": "Reserve"}),
    ("nexus_state_transitions_total", {"definition": "metered", "state": "Explode"}),
    ("nexus_state_failures_total", {"state": "Explode", "error_type": "Kaput"}),
    ("nexus_workflow_failures_total", {"definition": "metered", "error_type": "Kaput"}),
    ("nexus_compensations_total", {"state": "Reserve", "status": "compensated"}),
    ("nexus_breaker_state", {"target": f"{FNS}:echo"}),
)


async def test_worker_serves_metrics_and_probes(env: WorkflowEnvironment, tmp_path: Path) -> None:
    definition = tmp_path / "metered.yaml"
    definition.write_text(FLOW)
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    metrics_port, health_port = free_port(), free_port()
    log = tmp_path / "worker.log"
    proc = spawn(
        nexus_cmd(
            "worker",
            str(definition),
            "--address",
            address_of(env),
            "--task-queue",
            queue,
            "--metrics-port",
            str(metrics_port),
            "--health-port",
            str(health_port),
            "--http-host",
            "127.0.0.1",
        ),
        log,
    )
    base = f"http://127.0.0.1:{health_port}"
    try:
        wait_for_line(log, "worker serving", proc, timeout=120)
        live = await poll(f"{base}/healthz", lambda r: r.status_code == 200)
        assert live.status_code == 200 and live.text == "ok\n"
        ready = await poll(f"{base}/readyz", lambda r: r.status_code == 200)
        assert ready.status_code == 200, ready.text
        assert queue in ready.text
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{base}/nope")).status_code == 404
            # Health and metrics on separate ports: each serves only its own paths.
            assert (await http.get(f"{base}/metrics")).status_code == 404

        handle = await env.client.start_workflow(
            "metered", {}, id=f"metered-{queue}", task_queue=queue
        )
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), 60)

        url = f"http://127.0.0.1:{metrics_port}/metrics"
        response = await poll(
            url,
            lambda r: (
                all(sample(r.text, n, **labels) is not None for n, labels in NEXUS_METRICS)
                and sample(r.text, "temporal_workflow_failed", workflow_type="metered") is not None
            ),
        )
        text = response.text
        (tmp_path / "metrics.txt").write_text(text)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        for name, labels in NEXUS_METRICS[:-1]:
            assert sample(text, name, **labels) == 1, (name, labels)
        assert sample(text, "nexus_breaker_state", target=f"{FNS}:echo") == 0  # closed
        # Temporal SDK metrics, from the same endpoint.
        assert sample(text, "temporal_workflow_failed", workflow_type="metered") == 1
        assert sample(text, "temporal_activity_execution_failed", activity_type="nexus.invoke")
        assert "temporal_workflow_task_execution_latency" in text

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            kill_group(proc)


async def test_readiness_waits_for_a_client_and_a_polling_worker() -> None:
    """Before the worker runs, /readyz says why it is not ready; /healthz is already 200."""
    endpoints = Endpoints(Probes())
    port = free_port()
    await endpoints.listen("127.0.0.1", port, endpoints.routes(health=True, metrics=True))
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            ready = await http.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 503 and "not connected" in ready.text
            # No metrics configured: no /metrics route.
            assert (await http.get(f"http://127.0.0.1:{port}/metrics")).status_code == 404
    finally:
        await endpoints.close()


def test_bad_observability_settings_are_clear_errors(tmp_path: Path) -> None:
    definition = tmp_path / "metered.yaml"
    definition.write_text(FLOW)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OTEL_TRACES_EXPORTER": "jaeger"}
    unknown = subprocess.run(
        nexus_cmd("worker", str(definition)),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unknown.returncode == 2, unknown.stderr
    assert "unknown trace exporter 'jaeger'" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run(
            nexus_cmd(
                "worker", str(definition), "--health-port", str(port), "--http-host", "127.0.0.1"
            ),
            cwd=ROOT,
            env={**env, "OTEL_TRACES_EXPORTER": "none"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert taken.returncode == 1, taken.stderr
    assert "nexus: error:" in taken.stderr and "Traceback" not in taken.stderr
