"""The worker's metrics and health listeners: on 127.0.0.1 unless the operator opts in to
another address (``--http-host``, ``--metrics-host``, ``--health-host``), and a slow client
cannot hold a connection open. The bound addresses are read from the kernel's socket table
for the worker process itself, not inferred from a successful connection."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.cli import build_parser
from tests.helpers.processes import kill_group, nexus_cmd, run_cli, spawn, wait_for_line
from workers.health import Endpoints, Probes
from workers.observability import Observability
from workers.telemetry import free_port

FLOW = """
name: listening
functions:
  echo: python:tests.helpers.functions:echo
states:
  - name: Echo
    action: echo
"""


def _listening(pid: int) -> dict[int, str]:
    """{port: IPv4 address} of the TCP sockets process ``pid`` listens on."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state != "0A" or inode not in inodes:  # 0A: LISTEN
            continue
        hex_ip, hex_port = local.split(":")
        ip = socket.inet_ntoa(bytes.fromhex(hex_ip)[::-1])  # little-endian in the table
        found[int(hex_port, 16)] = ip
    return found


@contextmanager
def _worker(env: WorkflowEnvironment, tmp_path: Path, name: str, *flags: str) -> Iterator[int]:
    definition = tmp_path / "listening.yaml"
    definition.write_text(FLOW)
    log = tmp_path / f"{name}.log"
    proc = spawn(
        nexus_cmd(
            "worker",
            str(definition),
            "--address",
            env.client.service_client.config.target_host,
            "--task-queue",
            f"listen-{uuid.uuid4().hex[:8]}",
            "--otel-exporter",
            "none",
            *flags,
        ),
        log,
    )
    try:
        wait_for_line(log, "worker serving", proc, timeout=120)
        yield proc.pid
    finally:
        kill_group(proc)


async def test_worker_listens_on_loopback_by_default_and_opts_in(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    metrics, health = free_port(), free_port()
    other_metrics, other_health = free_port(), free_port()
    with (
        _worker(
            env, tmp_path, "default", "--metrics-port", str(metrics), "--health-port", str(health)
        ) as default_pid,
        _worker(
            env,
            tmp_path,
            "opted-in",
            "--metrics-port",
            str(other_metrics),
            "--health-port",
            str(other_health),
            "--metrics-host",
            "0.0.0.0",
        ) as opted_pid,
    ):
        bound = _listening(default_pid)
        assert bound.get(metrics) == "127.0.0.1" and bound.get(health) == "127.0.0.1", bound
        bound = _listening(opted_pid)
        assert bound.get(other_metrics) == "0.0.0.0", bound  # opted in, for a remote Prometheus
        assert bound.get(other_health) == "127.0.0.1", bound  # the other stays local
        async with httpx.AsyncClient(timeout=10) as http:
            live = await http.get(f"http://127.0.0.1:{health}/healthz")
            assert live.status_code == 200
            scraped = await http.get(f"http://127.0.0.1:{other_metrics}/metrics")
            assert scraped.status_code == 200


def _observability(*flags: str) -> Observability:
    args = build_parser().parse_args(["worker", "x.yaml", "--otel-exporter", "none", *flags])
    return Observability.from_args(args)


async def test_flags_choose_the_address_of_each_listener() -> None:
    """The same flags in process (health only: metrics set up a process-wide provider)."""
    for flags, expected in (
        ((), "127.0.0.1"),
        (("--http-host", "0.0.0.0"), "0.0.0.0"),
        (("--health-host", "0.0.0.0"), "0.0.0.0"),
        (("--http-host", "0.0.0.0", "--health-host", "127.0.0.1"), "127.0.0.1"),
    ):
        port = free_port()
        observability = _observability("--health-port", str(port), *flags)
        await observability.start()
        try:
            assert observability.endpoints is not None
            [server] = observability.endpoints.servers
            [sock] = server.sockets
            assert sock.getsockname() == (expected, port), flags
            shown = "localhost" if expected == "0.0.0.0" else expected
            assert f"health: http://{shown}:{port}/healthz" in observability.describe()
        finally:
            await observability.stop()
    # nexus dev has the same flags and defaults
    dev = build_parser().parse_args(["dev", "x.yaml", "--health-port", "8080"])
    assert dev.http_host == "127.0.0.1" and dev.health_host is None


def test_one_port_cannot_listen_on_two_hosts(tmp_path: Path) -> None:
    definition = tmp_path / "listening.yaml"
    definition.write_text(FLOW)
    port = str(free_port())
    result = run_cli(
        nexus_cmd(
            "worker",
            str(definition),
            "--metrics-port",
            port,
            "--health-port",
            port,
            "--metrics-host",
            "0.0.0.0",
            "--otel-exporter",
            "none",
        )
    )
    assert result.returncode == 2, result.stderr
    assert "cannot listen on both 0.0.0.0 and 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


async def test_slow_clients_are_dropped_by_the_health_listener() -> None:
    """A client trickling its request head byte by byte is cut off at the deadline (a
    per-line timeout alone would wait for ever), another that sends nothing too; the
    endpoint answers everyone else meanwhile."""
    endpoints = Endpoints(Probes(), request_timeout=0.5)
    port = free_port()
    await endpoints.listen("127.0.0.1", port, endpoints.routes(health=True, metrics=False))
    try:
        silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()

        async def trickle() -> None:
            for _ in range(40):
                try:
                    writer.write(b"X-Slow: a\r\n")  # a whole header line every 0.1 s
                    await writer.drain()
                except OSError:  # dropped by the server, as it should be
                    return
                await asyncio.sleep(0.1)

        dripping = asyncio.create_task(trickle())
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        assert await asyncio.wait_for(reader.read(), 3) == b""  # closed, unanswered
        assert time.monotonic() - started < 2
        assert await asyncio.wait_for(silent_reader.read(), 3) == b""
        dripping.cancel()
        writer.close()
        silent_writer.close()

        # more header lines than any client needs: refused as a bad request
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\n" + b"X-H: v\r\n" * 200 + b"\r\n")
        answer = await asyncio.wait_for(reader.read(), 3)
        assert answer.startswith(b"HTTP/1.1 400")
        writer.close()
    finally:
        await endpoints.close()
