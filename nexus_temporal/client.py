"""Connecting to Temporal the way the Temporal CLI does: flags first, then ``TEMPORAL_*``
environment variables, then the profile of Temporal's environment configuration (the
``temporal.toml`` the Temporal CLI writes: ``--config-file``/``TEMPORAL_CONFIG_FILE``, else
``~/.config/temporalio/temporal.toml``; profile ``--profile``/``TEMPORAL_PROFILE``, else
``default``), then local defaults."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

if TYPE_CHECKING:
    from temporalio.envconfig import ClientConfigProfile

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
    #: the environment-configuration profile (``temporal.toml``); unset: ``TEMPORAL_PROFILE``,
    #: then ``default``
    profile: str | None = None
    #: the environment-configuration file; unset: ``TEMPORAL_CONFIG_FILE``, then the Temporal
    #: CLI's default location
    config_file: str | None = None
    #: where the address came from (``from --address``, ``from TEMPORAL_ADDRESS``, ``from
    #: profile 'p' in FILE``, ``the default address``): set by :meth:`resolved`
    address_source: str = ""
    #: the profile's TLS settings, used when no flag or variable sets TLS
    profile_tls: TLSConfig | bool | None = None
    #: the profile's gRPC metadata
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)

    def resolved(self) -> ConnectionSettings:
        """Every field set, each from its flag, else its ``TEMPORAL_*`` variable, else the
        profile, else the default: the Temporal CLI's order. A UsageError for a config file
        or a profile that is named but not there."""
        env = os.environ.get
        tls_env = env("TEMPORAL_TLS", "").lower() in ("1", "true", "yes")
        profile, where = self._profile()
        if self.address_source:
            source = self.address_source
        elif self.address:
            source = "from --address"
        elif env("TEMPORAL_ADDRESS"):
            source = "from TEMPORAL_ADDRESS"
        elif profile.address:
            source = f"from {where}"
        else:
            source = "the default address"
        return ConnectionSettings(
            address=self.address or env("TEMPORAL_ADDRESS") or profile.address or DEFAULT_ADDRESS,
            namespace=self.namespace
            or env("TEMPORAL_NAMESPACE")
            or profile.namespace
            or DEFAULT_NAMESPACE,
            api_key=self.api_key or env("TEMPORAL_API_KEY") or profile.api_key,
            tls=self.tls if self.tls is not None else tls_env,
            tls_cert=self.tls_cert
            or env("TEMPORAL_TLS_CLIENT_CERT_PATH")
            or env("TEMPORAL_TLS_CERT"),
            tls_key=self.tls_key or env("TEMPORAL_TLS_CLIENT_KEY_PATH") or env("TEMPORAL_TLS_KEY"),
            tls_ca=self.tls_ca or env("TEMPORAL_TLS_SERVER_CA_CERT_PATH") or env("TEMPORAL_TLS_CA"),
            tls_server_name=self.tls_server_name or env("TEMPORAL_TLS_SERVER_NAME"),
            codec_keys=self.codec_keys or env("NEXUS_CODEC_KEYS_FILE"),
            profile=self.profile,
            config_file=self.config_file,
            address_source=source,
            profile_tls=self.profile_tls
            if self.profile_tls is not None
            else (profile.tls.to_connect_tls_config() if profile.tls else None),
            rpc_metadata=dict(profile.grpc_meta) | dict(self.rpc_metadata),
        )

    def _profile(self) -> tuple[ClientConfigProfile, str]:
        """The environment-configuration profile (empty when there is no file) and where it
        is, for messages: ``profile 'NAME' in FILE``."""
        from temporalio.envconfig import ClientConfigProfile

        from nexus_temporal.runner import UsageError

        env = os.environ.get
        if self.address_source:  # already resolved: the profile was read then
            return ClientConfigProfile(), ""
        name = self.profile or env("TEMPORAL_PROFILE") or None
        path = self.config_file or env("TEMPORAL_CONFIG_FILE") or None
        flag = "--config-file" if self.config_file else "TEMPORAL_CONFIG_FILE"
        if path and not Path(path).is_file():
            raise UsageError(f"no Temporal config file {path} (from {flag})")
        try:
            profile = ClientConfigProfile.load(
                name, config_source=Path(path) if path else None, disable_env=True
            )
        except Exception as exc:  # the bridge's ConfigError: a missing profile, bad TOML
            source = "--profile" if self.profile else "TEMPORAL_PROFILE"
            named = f" (profile '{name}' from {source})" if name else ""
            raise UsageError(
                "cannot read the Temporal environment configuration "
                f"{path or 'in its default location'}{named}: {exc}"
            ) from None
        file = path or "the default temporal.toml"
        return profile, f"profile '{name or 'default'}' in {file}"

    def data_converter(self) -> DataConverter:
        """The data converter for these settings: payloads encrypted when codec keys are
        configured (raises ``CodecConfigError`` for an invalid key configuration)."""
        from nexus_temporal.codec import KeyRing, data_converter

        return data_converter(KeyRing.load(self.codec_keys))

    def tls_config(self) -> TLSConfig | bool:
        """TLS from the flags and variables; else the profile's; else on with an API key."""
        own = self.tls or self.tls_cert or self.tls_ca or self.tls_key
        if not own and self.profile_tls is not None:
            return self.profile_tls
        if not (own or self.api_key):
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
        rpc_metadata=dict(s.rpc_metadata),
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
    """The Temporal CLI's connection flags; unset ones fall back to ``TEMPORAL_*`` variables,
    then to the environment-configuration profile (``temporal.toml``)."""
    g = parser.add_argument_group(
        "connection (defaults from TEMPORAL_* environment variables, then the temporal.toml "
        "profile)"
    )
    g.add_argument("--address", help="host:port of the Temporal frontend [localhost:7233]")
    g.add_argument("--namespace", "-n", help="namespace [default]")
    g.add_argument("--api-key", help="API key (Temporal Cloud); prefer TEMPORAL_API_KEY")
    g.add_argument("--tls", action="store_true", default=None, help="use TLS")
    g.add_argument("--tls-cert-path", dest="tls_cert", help="client certificate (mTLS)")
    g.add_argument("--tls-key-path", dest="tls_key", help="client private key (mTLS)")
    g.add_argument("--tls-ca-path", dest="tls_ca", help="server CA certificate")
    g.add_argument("--tls-server-name", help="server name to verify")
    g.add_argument(
        "--profile",
        help="profile of Temporal's environment configuration (temporal.toml, as the Temporal "
        "CLI's) [TEMPORAL_PROFILE, else default]",
    )
    g.add_argument(
        "--config-file",
        metavar="FILE",
        help="the environment configuration file "
        "[TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml]",
    )
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
        profile=getattr(args, "profile", None),
        config_file=getattr(args, "config_file", None),
    )
