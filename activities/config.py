"""Provider settings of a worker: regions, endpoints, credential modes, timeouts, and which
environment variables a definition may read.

They live with the worker, never in a definition or in workflow history: a providers file
(YAML or JSON, ``--providers FILE`` or ``NEXUS_PROVIDERS_FILE``) plus ``NEXUS_*`` environment
variables, which win over the file. A provider is *configured* when the file has its section
(``aws:``, ``azure:``, ``gcp:``; ``{}`` is enough) or one of its ``NEXUS_<PROVIDER>_*`` variables
is set. The ``http:`` section is always in force (its defaults allow nothing). Secrets are never
values here: only the names of the environment variables or files holding them.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import yaml

PROVIDERS_FILE_ENV = "NEXUS_PROVIDERS_FILE"
#: Cloud URI scheme -> the section of the providers file (and of ProvidersConfig) configuring it.
PROVIDER_SECTIONS = {"aws-lambda": "aws", "azure-function": "azure", "gcp-function": "gcp"}

AzureAuth = Literal["aad", "key", "none"]
GcpAuth = Literal["id-token", "none"]


@dataclass(frozen=True)
class AwsSettings:
    """``aws:`` — AWS Lambda through boto3.

    Args:
        region: default region for function names that are not ARNs (an ARN names its own).
        endpoint_url: Lambda endpoint override (a VPC endpoint, or the local emulator).
        profile: boto3 profile; unset: the default credential chain (env, files, IMDS, ...).
        unsigned: send unsigned requests (only for the local emulator or a signing proxy).
        connect_timeout, read_timeout: botocore timeouts in seconds (the activity's own
            start-to-close timeout bounds the call too).
    """

    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    unsigned: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 900.0


@dataclass(frozen=True)
class AzureAppSettings:
    """Per function app overrides under ``azure.apps.<app>`` (same meaning as below)."""

    endpoint_url: str | None = None
    auth: AzureAuth | None = None
    scope: str | None = None
    key_env: str | None = None
    key_file: str | None = None


@dataclass(frozen=True)
class AzureSettings:
    """``azure:`` — Azure Functions over HTTPS.

    Args:
        auth: ``aad`` (a bearer token from azure-identity's DefaultAzureCredential for
            ``scope``), ``key`` (a function key sent as ``x-functions-key``), or ``none``.
        scope: the token scope; default ``api://<app>/.default``.
        key_env: the environment variable holding the function key.
        key_file: a file holding the function key (e.g. a mounted secret); read at each call.
        endpoint_url: replaces ``https://<app>.azurewebsites.net`` (e.g. the local host shim).
        timeout: HTTP timeout in seconds; unset, the activity's timeout bounds the call.
        apps: per function app overrides.
    """

    auth: AzureAuth = "aad"
    scope: str | None = None
    key_env: str | None = "NEXUS_AZURE_FUNCTION_KEY"
    key_file: str | None = None
    endpoint_url: str | None = None
    timeout: float | None = None
    apps: Mapping[str, AzureAppSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for auth in [self.auth, *(a.auth for a in self.apps.values() if a.auth)]:
            if auth not in ("aad", "key", "none"):
                raise ValueError(f"azure auth '{auth}': use aad, key or none")

    def for_app(self, app: str) -> AzureAppSettings:
        """This app's effective settings (app overrides, then the provider's)."""
        own = self.apps.get(app, AzureAppSettings())
        return AzureAppSettings(
            endpoint_url=own.endpoint_url or self.endpoint_url,
            auth=own.auth or self.auth,
            scope=own.scope or self.scope,
            key_env=own.key_env or self.key_env,
            key_file=own.key_file or self.key_file,
        )


@dataclass(frozen=True)
class GcpSettings:
    """``gcp:`` — Google Cloud Functions (2nd gen) over HTTPS.

    Args:
        auth: ``id-token`` (a Google ID token for the function's URL, from google-auth) or
            ``none``.
        credentials_file: a service account key file for ID tokens; unset: Application Default
            Credentials.
        functions_endpoint: the Cloud Functions API endpoint used to resolve a function's URL
            (``https://...`` uses gRPC/REST as usual; ``http://...`` is for the local emulator).
        timeout: HTTP timeout in seconds; unset, the activity's timeout bounds the call.
    """

    auth: GcpAuth = "id-token"
    credentials_file: str | None = None
    functions_endpoint: str | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.auth not in ("id-token", "none"):
            raise ValueError(f"gcp auth '{self.auth}': use id-token or none")


#: Worker variables a *pattern* in ``http.env_allow`` never matches: the worker's own
#: credentials and settings (codec keys, cloud SDK credentials, ...). Naming one exactly still
#: allows it: the operator then chose to hand it to definitions.
RESERVED_ENV = ("NEXUS_*", "TEMPORAL_*", "AWS_*", "AZURE_*", "GOOGLE_*", "OTEL_*")
_ENV_PATTERN = re.compile(r"^[A-Za-z0-9_*?]+$")
_WILDCARD = re.compile(r"[*?]")


@dataclass(frozen=True)
class HttpSettings:
    """``http:`` — what a definition's ``headers:`` may read from the worker's environment.

    Definitions are trusted to name endpoints, not to read every secret of the worker: a header
    value ``${env:NAME}`` resolves only when ``NAME`` is allowed here.

    Args:
        env_allow: variable names, or patterns with ``*``/``?`` (``PAYMENTS_*``), that
            ``${env:NAME}`` may read. Default: none. A pattern never matches a reserved
            variable (:data:`RESERVED_ENV`, and the Azure ``key_env`` names): list such a
            name exactly to allow it. ``NEXUS_HTTP_ENV_ALLOW`` (comma-separated) replaces it.
    """

    env_allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        raw: Any = self.env_allow
        names = raw.split(",") if isinstance(raw, str) else list(raw or ())
        cleaned = tuple(str(n).strip() for n in names if str(n).strip())
        for name in cleaned:
            if not _ENV_PATTERN.match(name):
                raise ValueError(
                    f"http.env_allow entry '{name}': use variable names or patterns of letters, "
                    "digits, '_', '*' and '?' (e.g. PAYMENTS_TOKEN, PAYMENTS_*)"
                )
        object.__setattr__(self, "env_allow", cleaned)

    @staticmethod
    def reserved(name: str, reserved: tuple[str, ...] = ()) -> bool:
        """Whether ``name`` is a reserved worker variable (only an exact entry allows it)."""
        return any(fnmatch.fnmatchcase(name, r) for r in (*RESERVED_ENV, *reserved))

    def allows(self, name: str, reserved: tuple[str, ...] = ()) -> bool:
        """Whether ``${env:name}`` may resolve; ``reserved``: more patterns (or names) that
        only an exact entry unlocks."""
        if name in self.env_allow:
            return True
        if self.reserved(name, reserved):
            return False
        return any(_WILDCARD.search(p) and fnmatch.fnmatchcase(name, p) for p in self.env_allow)


@dataclass(frozen=True)
class ProvidersConfig:
    """The cloud providers configured on this worker (``None``: not configured), and the
    ``http:`` settings (always present)."""

    aws: AwsSettings | None = None
    azure: AzureSettings | None = None
    gcp: GcpSettings | None = None
    http: HttpSettings = field(default_factory=HttpSettings)

    def configured(self, provider: str) -> bool:
        return getattr(self, provider, None) is not None

    @classmethod
    def load(
        cls, path: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> ProvidersConfig:
        """Read the providers file (``path``, else ``$NEXUS_PROVIDERS_FILE``, else none), then
        apply ``NEXUS_*`` environment overrides."""
        env = os.environ if environ is None else environ
        file = path or env.get(PROVIDERS_FILE_ENV)
        raw: dict[str, Any] = {}
        if file:
            text = Path(file).read_text()
            loaded = json.loads(text) if str(file).endswith(".json") else yaml.safe_load(text)
            if loaded is not None and not isinstance(loaded, dict):
                raise ValueError(
                    f"{file}: a providers file is a mapping with aws/azure/gcp/http keys"
                )
            raw = dict(loaded or {})
            unknown = set(raw) - {"aws", "azure", "gcp", "http"}
            if unknown:
                raise ValueError(f"{file}: unknown provider section(s) {sorted(unknown)}")
        aws = _section(AwsSettings, raw, "aws", env)
        azure = _section(AzureSettings, raw, "azure", env)
        gcp = _section(GcpSettings, raw, "gcp", env)
        http = _section(HttpSettings, raw, "http", env) or HttpSettings()
        return cls(aws=aws, azure=azure, gcp=gcp, http=http)


def _section(kind: type[Any], raw: dict[str, Any], name: str, env: Mapping[str, str]) -> Any:
    prefix = f"NEXUS_{name.upper()}_"
    overrides = {
        f.name: env[prefix + f.name.upper()]
        for f in fields(kind)
        if f.name != "apps" and prefix + f.name.upper() in env
    }
    if name not in raw and not overrides:
        return None
    data = dict(raw.get(name) or {})
    unknown = set(data) - {f.name for f in fields(kind)}
    if unknown:
        raise ValueError(f"providers '{name}': unknown setting(s) {sorted(unknown)}")
    if "apps" in data:
        data["apps"] = {app: AzureAppSettings(**(v or {})) for app, v in data["apps"].items()}
    settings = kind(**data)
    typed: dict[str, Any] = {}
    for f in fields(kind):
        if f.name in overrides:
            value: Any = overrides[f.name]
            if "timeout" in f.name:
                value = float(value)
            elif f.name == "unsigned":
                value = value.lower() in ("1", "true", "yes")
            typed[f.name] = value
    return replace(settings, **typed)


__all__ = [
    "PROVIDERS_FILE_ENV",
    "PROVIDER_SECTIONS",
    "AwsSettings",
    "AzureAppSettings",
    "AzureSettings",
    "GcpSettings",
    "HttpSettings",
    "ProvidersConfig",
    "RESERVED_ENV",
]
