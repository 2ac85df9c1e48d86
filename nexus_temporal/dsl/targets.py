"""Action target URIs: the one registry of the schemes nexus knows, and their pure syntax checks.

This is the bottom layer: no provider SDK, no activity code. The providers in ``activities/``
import their URI parsers from here (``activities.aws_lambda.parse_uri`` is
:func:`parse_lambda_uri`), so ``nexus validate`` and the worker read a URI the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

# --- aws-lambda: ------------------------------------------------------------------------------

_NAME = r"[A-Za-z0-9_-]{1,64}"
_QUALIFIER = r"(\$LATEST|[A-Za-z0-9_-]{1,128})"
LAMBDA_ARN = re.compile(
    rf"^arn:aws[a-z-]*:lambda:(?P<region>[a-z]{{2}}(-[a-z]+)+-\d):(?P<account>\d{{12}}):"
    rf"function:(?P<name>{_NAME})(:(?P<qualifier>{_QUALIFIER}))?$"
)
LAMBDA_SHORT = re.compile(rf"^(?P<name>{_NAME})(:(?P<qualifier>{_QUALIFIER}))?$")


@dataclass(frozen=True)
class LambdaTarget:
    """A parsed ``aws-lambda:`` URI (before options and worker settings apply)."""

    name: str
    region: str | None
    qualifier: str | None
    arn: str | None


def parse_lambda_uri(uri: str) -> LambdaTarget:
    """Parse an ``aws-lambda:`` URI; raises ``ValueError`` saying what is wrong."""
    rest = uri.removeprefix("aws-lambda:")
    if rest.startswith("arn:"):
        match = LAMBDA_ARN.match(rest)
        if not match:
            raise ValueError(
                f"'{rest}' is not a Lambda function ARN "
                "(arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])"
            )
        arn = rest if not match["qualifier"] else rest.rsplit(":", 1)[0]
        return LambdaTarget(match["name"], match["region"], match["qualifier"], arn)
    match = LAMBDA_SHORT.match(rest)
    if not match:
        raise ValueError(
            f"'{rest}' is not a Lambda function name (letters, digits, - and _, at most 64) or ARN"
        )
    return LambdaTarget(match["name"], None, match["qualifier"], None)


def lambda_uri_problem(uri: str) -> str | None:
    """Why ``uri`` is not a valid ``aws-lambda:`` target (None: it is). Used by validate."""
    try:
        parse_lambda_uri(uri)
    except ValueError as exc:
        return str(exc)
    return None


# --- azure-function: --------------------------------------------------------------------------

_APP = r"[A-Za-z0-9][A-Za-z0-9-]{0,58}"
AZURE_SHORT = re.compile(rf"^(?P<app>{_APP})/(?P<route>[^\s?#]+)$")
AZURE_FULL = re.compile(r"^(?P<base>https?://(?P<host>[A-Za-z0-9.-]+)(:\d+)?)/(?P<path>[^\s?#]*)$")


@dataclass(frozen=True)
class AzureTarget:
    app: str
    #: The URL without a worker override (``https://APP.azurewebsites.net/api/ROUTE``).
    url: str
    #: The path after the host, e.g. ``api/charge``.
    path: str
    #: The definition wrote a full URL (its host must be the app's or a configured endpoint).
    explicit: bool = False


def parse_azure_uri(uri: str) -> AzureTarget:
    """Parse an ``azure-function:`` URI; raises ``ValueError`` saying what is wrong."""
    rest = uri.removeprefix("azure-function:")
    full = AZURE_FULL.match(rest)
    if full:
        app = full["host"].split(".", 1)[0]
        return AzureTarget(app, rest, full["path"], explicit=True)
    short = AZURE_SHORT.match(rest)
    if short:
        path = f"api/{short['route'].strip('/')}"
        return AzureTarget(short["app"], f"https://{short['app']}.azurewebsites.net/{path}", path)
    raise ValueError(
        f"'{rest}' is not an Azure function: write azure-function:APP/ROUTE or "
        "azure-function:https://APP.azurewebsites.net/api/ROUTE"
    )


def azure_uri_problem(uri: str) -> str | None:
    try:
        parse_azure_uri(uri)
    except ValueError as exc:
        return str(exc)
    return None


# --- gcp-function: ----------------------------------------------------------------------------

GCP_NAME = re.compile(
    r"^projects/(?P<project>[A-Za-z0-9][A-Za-z0-9.:-]{0,62})/locations/(?P<location>[a-z0-9-]+)"
    r"/functions/(?P<function>[A-Za-z][A-Za-z0-9_-]{0,62})$"
)


def gcp_resource_name(uri: str) -> str:
    """The function's resource name; raises ``ValueError`` saying what is wrong."""
    rest = uri.removeprefix("gcp-function:")
    if not GCP_NAME.match(rest):
        raise ValueError(
            f"'{rest}' is not a Cloud Function name: write "
            "gcp-function:projects/PROJECT/locations/LOCATION/functions/NAME"
        )
    return rest


def gcp_uri_problem(uri: str) -> str | None:
    try:
        gcp_resource_name(uri)
    except ValueError as exc:
        return str(exc)
    return None


# --- python:, activity:, http(s):// -----------------------------------------------------------

_PY_URI = re.compile(r"^python:[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _python_problem(uri: str) -> str | None:
    return None if _PY_URI.match(uri) else f"'{uri}' is not a python function URI"


def _activity_problem(uri: str) -> str | None:
    return "'activity:' needs an activity type name" if len(uri) <= len("activity:") else None


def _http_problem(uri: str) -> str | None:
    return None if uri.partition("://")[2] else f"'{uri}' has no host"


def _cloud(scheme: str, problem: Callable[[str], str | None]) -> Callable[[str], str | None]:
    def check(uri: str) -> str | None:
        reason = problem(uri)
        return f"bad '{scheme}:' URI: {reason}" if reason else None

    return check


# --- the registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    """A target URI scheme: how ``validate`` checks a URI's syntax, and the hint it gives."""

    name: str
    #: The problem with a URI of this scheme, as one message; None when it is well-formed.
    problem: Callable[[str], str | None]
    hint: str


_SCHEMES = (
    Scheme("python", _python_problem, "write python:package.module:function"),
    Scheme("http", _http_problem, "write e.g. https://api.example.com/charge"),
    Scheme("https", _http_problem, "write e.g. https://api.example.com/charge"),
    Scheme("activity", _activity_problem, "write activity:my-activity-type"),
    Scheme(
        "aws-lambda",
        _cloud("aws-lambda", lambda_uri_problem),
        "write aws-lambda:NAME or a Lambda function ARN",
    ),
    Scheme(
        "azure-function",
        _cloud("azure-function", azure_uri_problem),
        "write azure-function:APP/ROUTE",
    ),
    Scheme(
        "gcp-function",
        _cloud("gcp-function", gcp_uri_problem),
        "write gcp-function:projects/PROJECT/locations/LOCATION/functions/NAME",
    ),
)
#: Every scheme nexus knows, by name, in the order the docs list them.
SCHEMES: Mapping[str, Scheme] = MappingProxyType({s.name: s for s in _SCHEMES})
#: The names of :data:`SCHEMES`.
URI_SCHEMES: tuple[str, ...] = tuple(SCHEMES)
UNSUPPORTED_HINT = "use python:module:function, http(s)://host/path or activity:TYPE"


def uri_problem(scheme: str, uri: str) -> tuple[str, str] | None:
    """(message, hint) when ``uri`` (of ``scheme``) is not a valid target URI, else None."""
    entry = SCHEMES.get(scheme)
    if entry is None:
        return (f"unsupported function URI scheme '{scheme}:' in '{uri}'", UNSUPPORTED_HINT)
    message = entry.problem(uri)
    return (message, entry.hint) if message else None
