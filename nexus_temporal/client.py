"""Connecting to Temporal the way the Temporal CLI does: flags first, then ``TEMPORAL_*``
environment variables, then local defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.service import TLSConfig

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "nexus"


@dataclass
class ConnectionSettings:
    """Where and how to connect. ``None`` fields fall back to the environment."""

    address: str | None = None
    namespace: str | None = None
    api_key: str | None = None
    tls: bool | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    tls_server_name: str | None = None

    def resolved(self) -> ConnectionSettings:
        env = os.environ.get
        tls_env = env("TEMPORAL_TLS", "").lower() in ("1", "true", "yes")
        return ConnectionSettings(
            address=self.address or env("TEMPORAL_ADDRESS") or DEFAULT_ADDRESS,
            namespace=self.namespace or env("TEMPORAL_NAMESPACE") or DEFAULT_NAMESPACE,
            api_key=self.api_key or env("TEMPORAL_API_KEY"),
            tls=self.tls if self.tls is not None else tls_env,
            tls_cert=self.tls_cert
            or env("TEMPORAL_TLS_CLIENT_CERT_PATH")
            or env("TEMPORAL_TLS_CERT"),
            tls_key=self.tls_key or env("TEMPORAL_TLS_CLIENT_KEY_PATH") or env("TEMPORAL_TLS_KEY"),
            tls_ca=self.tls_ca or env("TEMPORAL_TLS_SERVER_CA_CERT_PATH") or env("TEMPORAL_TLS_CA"),
            tls_server_name=self.tls_server_name or env("TEMPORAL_TLS_SERVER_NAME"),
        )

    def tls_config(self) -> TLSConfig | bool:
        if not (self.tls or self.tls_cert or self.tls_ca or self.api_key):
            return False

        def read(path: str | None) -> bytes | None:
            return Path(path).read_bytes() if path else None

        return TLSConfig(
            client_cert=read(self.tls_cert),
            client_private_key=read(self.tls_key),
            server_root_ca_cert=read(self.tls_ca),
            domain=self.tls_server_name,
        )


async def connect(settings: ConnectionSettings | None = None) -> Client:
    """Connect a client; TLS is on when certificates or an API key are given."""
    s = (settings or ConnectionSettings()).resolved()
    assert s.address and s.namespace
    return await Client.connect(
        s.address, namespace=s.namespace, api_key=s.api_key, tls=s.tls_config()
    )
