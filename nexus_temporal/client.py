"""Connecting to Temporal the way the Temporal CLI does: flags first, then ``TEMPORAL_*``
environment variables, then local defaults."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter
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
    #: payload encryption key file (nexus_temporal/codec.py); unset: ``NEXUS_CODEC_KEYS_FILE``,
    #: then ``NEXUS_CODEC_KEYS``; none of them: payloads are not encrypted.
    codec_keys: str | None = None

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
            codec_keys=self.codec_keys or env("NEXUS_CODEC_KEYS_FILE"),
        )

    def data_converter(self) -> DataConverter:
        """The data converter for these settings: payloads encrypted when codec keys are
        configured (raises ``CodecConfigError`` for an invalid key configuration)."""
        from nexus_temporal.codec import KeyRing, data_converter

        return data_converter(KeyRing.load(self.codec_keys))

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


async def connect(
    settings: ConnectionSettings | None = None, *, data_converter: DataConverter | None = None
) -> Client:
    """Connect a client; TLS is on when certificates or an API key are given. Its data
    converter (default: :meth:`ConnectionSettings.data_converter`) is also the one of every
    worker built on it, so clients and workers encrypt alike."""
    s = (settings or ConnectionSettings()).resolved()
    assert s.address and s.namespace
    return await Client.connect(
        s.address,
        namespace=s.namespace,
        api_key=s.api_key,
        tls=s.tls_config(),
        data_converter=data_converter or s.data_converter(),
    )


def connect_failure_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words, instead of the SDK's transport error chain
    (``Failed client connect: Server connection error: tonic::transport::Error(...)``)."""
    text = str(exc)
    low = text.lower()
    if "connection refused" in low:
        return "connection refused"
    if "dns error" in low or "lookup address" in low:
        return "the host name does not resolve"
    if "timed out" in low or "deadline" in low:
        return "no answer (timed out)"
    if "grpc-status header missing" in low:
        return "what answers there is not a Temporal frontend (no gRPC)"
    if "certificate" in low or "tls" in low or "handshake" in low:
        return "the TLS handshake failed (check --tls and the certificate paths)"
    found = re.search(r'message: "([^"]+)"', text)
    if found:
        return found.group(1)
    return text.removeprefix("Failed client connect: ").splitlines()[0][:200] if text else repr(exc)


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """The Temporal CLI's connection flags; unset ones fall back to ``TEMPORAL_*`` variables."""
    g = parser.add_argument_group("connection (defaults from TEMPORAL_* environment variables)")
    g.add_argument("--address", help="host:port of the Temporal frontend [localhost:7233]")
    g.add_argument("--namespace", "-n", help="namespace [default]")
    g.add_argument("--api-key", help="API key (Temporal Cloud); prefer TEMPORAL_API_KEY")
    g.add_argument("--tls", action="store_true", default=None, help="use TLS")
    g.add_argument("--tls-cert-path", dest="tls_cert", help="client certificate (mTLS)")
    g.add_argument("--tls-key-path", dest="tls_key", help="client private key (mTLS)")
    g.add_argument("--tls-ca-path", dest="tls_ca", help="server CA certificate")
    g.add_argument("--tls-server-name", help="server name to verify")
    g.add_argument(
        "--codec-keys",
        metavar="FILE",
        help="encrypt payloads with the keys in FILE (docs/security.md) "
        "[NEXUS_CODEC_KEYS_FILE, or inline keys in NEXUS_CODEC_KEYS]",
    )


def settings_from_args(args: argparse.Namespace) -> ConnectionSettings:
    """Settings from flags added by :func:`add_connection_flags`."""
    return ConnectionSettings(
        address=args.address,
        namespace=args.namespace,
        api_key=args.api_key,
        tls=args.tls,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_ca=args.tls_ca,
        tls_server_name=args.tls_server_name,
        codec_keys=getattr(args, "codec_keys", None),
    )
